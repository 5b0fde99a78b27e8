"""One alert per real change, on both databases: the same event from the J-Alert receiver's mail,
its contact output and JMA's feed is one alert, whatever the order (docs/architecture.md, *One
alert per real change*).

Each case runs the real normalize stage (real parsers, the real ledger, an embedded bus) over
every order of the reports, and counts what would be routed: exactly one alert per change.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from adapters.ingest.jalert import JAlertParser
from adapters.ingest.jma import JmaParser
from broadcaster.bus import Ack, Record
from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.model import RawEvent
from broadcaster.pipeline.normalize import NormalizeStage
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger
from tests.helpers import make_settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TENANTS = {
    "anamizu": {"name": "穴水町", "areas": {"jma": ["1746100"]}},
    "wajima": {"name": "輪島市", "areas": {"jma": ["1720400"]}},
}


def jalert(ident: str, sent: str, category: str, *, via: str, status: str = "実運用", **more: str) -> RawEvent:
    lines = [
        "format = jalert/1",
        f"id = {ident}",
        f"sent = {sent}",
        f"status = {status}",
        f"category = {category}",
        f"via = {via}",
        *(f"{k} = {v}" for k, v in more.items()),
    ]
    # The town's own receiver: its bridge key names the tenant (docs/jalert.md, Areas).
    return RawEvent(source="jalert", body="\n".join(lines).encode(), tenant="anamizu", submitted_by="bridge")


def jma(name: str) -> RawEvent:
    return RawEvent(
        source="jma", body=(SAMPLES / "jma" / name).read_bytes(), content_type="application/xml", submitted_by="feed"
    )


class Normalizer:
    def __init__(self, stage: NormalizeStage, ledger: Ledger) -> None:
        self.stage = stage
        self.ledger = ledger
        self.offset = 0

    async def feed(self, raw: RawEvent) -> None:
        self.offset += 1
        record = Record("ingest.raw", 0, self.offset, "k", raw.model_dump_json().encode(), {}, 0.0)
        assert isinstance(await self.stage.handle(record), Ack)

    async def states(self, tenant: str = "anamizu") -> dict[str, tuple[str, str]]:
        def work(c: sa.Connection) -> dict[str, tuple[str, str]]:
            rows = c.execute(
                sa.select(t.alerts.c.identifier, t.alerts.c.state, t.alerts.c.event_key).where(
                    t.alerts.c.tenant == tenant
                )
            )
            return {r.identifier: (r.state, r.event_key) for r in rows}

        return await self.ledger.db.read(work)

    async def routed(self, tenant: str = "anamizu") -> list[str]:
        return sorted(i for i, (state, _) in (await self.states(tenant)).items() if state == "received")


@pytest.fixture
async def normalizer(ledger: Ledger, tmp_path: Path) -> AsyncIterator[Any]:
    settings = make_settings(tmp_path, tenants=TENANTS)
    bus = EmbeddedBus(tmp_path / "bus.sqlite3", partitions=2, poll_interval=0.05)
    await bus.start()

    async def make() -> Normalizer:
        return Normalizer(
            NormalizeStage(bus, ledger, [JAlertParser(), JmaParser()], TenantDirectory.from_settings(settings)), ledger
        )

    try:
        yield make
    finally:
        await bus.close()


async def _wipe(ledger: Ledger) -> None:
    def work(c: sa.Connection) -> None:
        for table in (t.merge_members, t.merge_changes, t.alerts, t.raw_events):
            c.execute(table.delete())

    await ledger.db.write(work)


EEW_REPORTS = {
    "mail": jalert("mail-eew-1", "2024-01-01T16:10:21+09:00", "緊急地震速報", via="mail", title="緊急地震速報（警報）"),
    "contact": jalert(
        "contact-eew-1", "2024-01-01T16:10:20+09:00", "eew", via="contact", text="緊急地震速報。強い揺れに警戒してください。"
    ),
    "jma": jma("12_vxse43_eew_keiho.xml"),
}


async def test_an_eew_from_mail_contact_and_jma_is_one_alert_in_every_order(ledger: Ledger, normalizer: Any) -> None:
    for order in itertools.permutations(EEW_REPORTS):
        await _wipe(ledger)
        n = await normalizer()
        for name in order:
            await n.feed(EEW_REPORTS[name])
        states = await n.states()
        assert len(states) == 3, (order, states)
        routed = await n.routed()
        assert len(routed) == 1, (order, states)
        first = {"mail": "jalert-mail-eew-1", "contact": "jalert-contact-eew-1"}.get(order[0])
        if first is not None:
            assert routed == [first], order
        else:
            assert routed[0].startswith("jma-"), order
        assert sorted(s for s, _ in states.values()) == ["merged", "merged", "received"], order
        # The neighbour's copy of JMA's telegram is its own change: the merge is per town.
        assert [s for s, _ in (await n.states("wajima")).values()] == ["received"]


async def test_a_second_jma_telegram_is_never_merged_into_the_first(ledger: Ledger, normalizer: Any) -> None:
    n = await normalizer()
    await n.feed(jma("12_vxse43_eew_keiho.xml"))
    other = (SAMPLES / "jma" / "12_vxse43_eew_keiho.xml").read_bytes().replace(b"20240101161010", b"20240101161110")
    await n.feed(RawEvent(source="jma", body=other, content_type="application/xml", submitted_by="feed"))
    # Two identified telegrams of one kind minutes apart are two changes (or one telegram twice,
    # which its identifier says): matching is only for relays.
    assert len(await n.routed()) == 2


MISSILE = {
    "mail": jalert(
        "mail-m1", "2025-07-10T07:02:40+09:00", "弾道ミサイル情報", via="mail", stage="発射", receiver="rx1"
    ),
    "contact": jalert(
        "contact-m1",
        "2025-07-10T07:02:38+09:00",
        "missile",
        via="contact",
        title="国民保護情報",
        text="国民保護に関する情報です。屋内に避難し、テレビ・ラジオ等の情報に注意してください。",
    ),
}


async def test_a_missile_from_mail_and_contact_is_one_alert_and_the_next_stage_follows_it(
    ledger: Ledger, normalizer: Any
) -> None:
    for order in itertools.permutations(MISSILE):
        await _wipe(ledger)
        n = await normalizer()
        for name in order:
            await n.feed(MISSILE[name])
        routed = await n.routed()
        assert len(routed) == 1, order
        first_event = (await n.states())[routed[0]][1]
        # The receiver's next stage (the mail intake chains it to the launch) and its cancel
        # continue the first report's event, whichever source that was.
        await n.feed(
            jalert(
                "mail-m2", "2025-07-10T07:04:40+09:00", "弾道ミサイル情報", via="mail", stage="直ちに避難",
                event="mail-m1", time="07:06", place="石川県",
            )
        )  # fmt: skip
        await n.feed(
            jalert(
                "mail-m3", "2025-07-10T07:20:00+09:00", "弾道ミサイル情報", via="mail", msgtype="取消",
                event="mail-m1", references="mail-m2",
            )
        )  # fmt: skip
        states = await n.states()
        assert states["jalert-mail-m2"] == ("received", first_event), order
        assert states["jalert-mail-m3"] == ("received", first_event), order


async def test_a_different_stage_or_grade_is_a_change_of_its_own(ledger: Ledger, normalizer: Any) -> None:
    n = await normalizer()
    await n.feed(jalert("c1", "2025-07-10T07:02:38+09:00", "missile", via="contact", title="国民保護情報", text="屋内に避難してください。"))
    await n.feed(jalert("m1", "2025-07-10T07:02:40+09:00", "弾道ミサイル情報", via="mail", stage="発射"))
    # The contact took the launch's stage from the mail that joined it: a take-cover report a
    # minute later is news, not the same change.
    await n.feed(jalert("m2", "2025-07-10T07:03:40+09:00", "弾道ミサイル情報", via="mail", stage="直ちに避難"))
    assert await n.routed() == ["jalert-c1", "jalert-m2"]
    # A relay's 大津波警報 after JMA's 津波警報 … is the grade of the town's coast that differs.
    await n.feed(jalert("t1", "2024-01-01T16:22:30+09:00", "tsunami", via="mail", title="津波注意報"))
    await n.feed(jma("02_vtse41_otsunami_keiho.xml"))
    await n.feed(jalert("t2", "2024-01-01T16:22:40+09:00", "tsunami", via="contact", title="大津波警報"))
    routed = await n.routed()
    assert "jalert-t1" in routed
    assert any(r.startswith("jma-") for r in routed)
    assert "jalert-t2" not in routed


async def test_reports_outside_the_window_or_of_another_status_are_changes_of_their_own(
    ledger: Ledger, normalizer: Any
) -> None:
    n = await normalizer()
    await n.feed(jalert("e1", "2025-07-13T03:15:30+09:00", "eew", via="contact", text="緊急地震速報。"))
    await n.feed(jalert("e2", "2025-07-13T03:15:31+09:00", "eew", via="mail", status="訓練", text="緊急地震速報。"))
    await n.feed(jalert("e3", "2025-07-13T03:25:30+09:00", "eew", via="mail", text="緊急地震速報。"))
    assert await n.routed() == ["jalert-e1", "jalert-e2", "jalert-e3"]


async def test_a_redelivered_report_keeps_its_state(ledger: Ledger, normalizer: Any) -> None:
    n = await normalizer()
    await n.feed(EEW_REPORTS["contact"])
    await n.feed(EEW_REPORTS["mail"])
    await n.feed(EEW_REPORTS["mail"])  # the bus redelivers after a crash
    await n.feed(EEW_REPORTS["contact"])
    states = await n.states()
    assert states["jalert-contact-eew-1"][0] == "received"
    assert states["jalert-mail-eew-1"][0] == "merged"
    assert await ledger.merged_into("anamizu", "jalert-mail-eew-1") == "jalert-contact-eew-1"


async def test_the_migration_builds_the_merge_tables_of_tables_py(ledger: Ledger) -> None:
    def diff(c: sa.Connection) -> list[Any]:
        mc = MigrationContext.configure(c, opts={"compare_type": True})
        return [d for d in compare_metadata(mc, t.metadata) if "merge_" in str(d)]

    assert await ledger.db.read(diff) == []


async def test_a_cancel_from_the_feed_and_the_receiver_is_one_cancel_in_every_order(
    ledger: Ledger, normalizer: Any
) -> None:
    # JMA cancels its tsunami warning at 16:40; the receiver's mail says 取消 a minute later and
    # continues its own event (the bridge chains it), which was merged into JMA's.
    reports = {
        "jma": jma("05_vtse41_torikeshi.xml"),
        "mail": jalert(
            "mail-t9", "2024-01-01T16:41:00+09:00", "tsunami", via="mail", msgtype="取消",
            event="mail-t1", references="mail-t1", title="大津波警報",
        ),
    }  # fmt: skip
    for order in itertools.permutations(reports):
        await _wipe(ledger)
        n = await normalizer()
        await n.feed(jma("02_vtse41_otsunami_keiho.xml"))
        await n.feed(jalert("mail-t1", "2024-01-01T16:22:30+09:00", "tsunami", via="mail", title="大津波警報"))
        for name in order:
            await n.feed(reports[name])
        states = await n.states()
        jma_event = next(ev for i, (_, ev) in states.items() if i.startswith("jma-"))
        assert states["jalert-mail-t1"][0] == "merged", order
        assert states["jalert-mail-t9"][1] == jma_event, order
        routed = await n.routed()
        cancels = [i for i in routed if i in ("jalert-mail-t9", "jma-dbdad39a4f7cfe2c0b1d50e7")]
        assert len(cancels) == 1, (order, routed)
