"""One alert per real change with the satellite, on both databases: the same event from QZSS
(みちびき) and from JMA's feed, J-Alert or L-Alert is one alert for the town, whatever the order
(docs/qzss.md; docs/architecture.md, *One alert per real change*).

Each case runs the real normalize stage (every parser, the real ledger, an embedded bus) over every
order of the reports and counts what would be routed. The QZSS messages are the project's own,
built from the documented bit layouts to match the sample telegrams' times.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.ingest.qzss import encode as e
from broadcaster.bus import Ack, Record
from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.model import RawEvent
from broadcaster.pipeline.normalize import NormalizeStage, parse
from broadcaster.pipeline.runtime import load_parsers
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger
from tests.helpers import make_settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TENANTS = {
    "anamizu": {
        "name": "穴水町",
        "areas": {"jma": ["1746100"]},
        "districts": [{"id": "kawashima", "name": "川島"}],
    },
    "wajima": {"name": "輪島市", "areas": {"jma": ["1720400"]}},
}
HEARD = datetime(2024, 1, 1, 7, 23, tzinfo=UTC)


def qzss(message: bytes, *, at: datetime = HEARD, ref: str | None = None) -> RawEvent:
    return RawEvent(source="qzss", body=e.nmea(message).encode(), received=at, submitted_by="source:qzss", source_ref=ref)


def jma(name: str, *, via: str = "jma") -> RawEvent:
    return RawEvent(
        source=via, body=(SAMPLES / "jma" / name).read_bytes(), content_type="application/xml", submitted_by="feed"
    )


def jalert(ident: str, sent: str, category: str, **more: str) -> RawEvent:
    lines = ["format = jalert/1", f"id = {ident}", f"sent = {sent}", "status = 実運用", f"category = {category}"]
    lines += [f"{k} = {v}" for k, v in more.items()]
    return RawEvent(source="jalert", body="\n".join(lines).encode(), tenant="anamizu", submitted_by="bridge")


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
                sa.select(t.alerts.c.identifier, t.alerts.c.state, t.alerts.c.event_key).where(t.alerts.c.tenant == tenant)
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
        return Normalizer(NormalizeStage(bus, ledger, load_parsers(), TenantDirectory.from_settings(settings)), ledger)

    try:
        yield make
    finally:
        await bus.close()


async def _wipe(ledger: Ledger) -> None:
    def work(c: sa.Connection) -> None:
        for table in (t.merge_members, t.merge_changes, t.alerts, t.raw_events):
            c.execute(table.delete())

    await ledger.db.write(work)


async def _every_order(ledger: Ledger, normalizer: Any, reports: dict[str, RawEvent], expect_total: int) -> None:
    for order in itertools.permutations(reports):
        await _wipe(ledger)
        n = await normalizer()
        for name in order:
            await n.feed(reports[name])
        states = await n.states()
        assert len(states) == expect_total, (order, states)
        routed = await n.routed()
        assert len(routed) == 1, (order, states)
        first = order[0]
        assert routed[0].startswith("qzss-") == (first == "qzss"), (order, routed)
        assert sorted(s for s, _ in states.values()).count("merged") == expect_total - 1, (order, states)


# The 大津波警報 of the sample telegram (16:22 JST) as the satellite relays it.
TSUNAMI_DCR = e.tsunami(
    datetime(2024, 1, 1, 7, 22, tzinfo=UTC), 4, [e.TsunamiRegion(360, 4), e.TsunamiRegion(340, 3)]
).message()


async def test_a_tsunami_warning_from_jma_and_qzss_is_one_alert_in_either_order(ledger: Ledger, normalizer: Any) -> None:
    await _every_order(ledger, normalizer, {"jma": jma("02_vtse41_otsunami_keiho.xml"), "qzss": qzss(TSUNAMI_DCR)}, 2)


async def test_jma_feed_j_alert_and_qzss_are_one_alert_in_every_order(ledger: Ledger, normalizer: Any) -> None:
    # JMA's telegram from the feed and passed through J-Alert is one identifier; the satellite's
    # relay merges with whichever came first.
    reports = {
        "jma": jma("02_vtse41_otsunami_keiho.xml"),
        "jalert": RawEvent(
            source="jalert", body=(SAMPLES / "jma" / "02_vtse41_otsunami_keiho.xml").read_bytes(),
            content_type="application/xml", submitted_by="bridge",
        ),
        "qzss": qzss(TSUNAMI_DCR),
    }
    await _every_order(ledger, normalizer, reports, 2)


async def test_the_seismic_intensity_report_from_jma_and_qzss_is_one_alert(ledger: Ledger, normalizer: Any) -> None:
    quake = datetime(2024, 1, 1, 7, 10, tzinfo=UTC)
    dcr = e.seismic_intensity(datetime(2024, 1, 1, 7, 11, tzinfo=UTC), quake, [(7, 17), (4, 15), (4, 16)]).message()
    await _every_order(ledger, normalizer, {"jma": jma("01_vxse51_shindo_sokuho.xml"), "qzss": qzss(dcr)}, 2)


async def test_a_missile_from_j_alert_and_qzss_is_one_alert_in_either_order(ledger: Ledger, normalizer: Any) -> None:
    reports = {
        "jalert": jalert("m-1", "2025-07-10T07:02:40+09:00", "弾道ミサイル情報", stage="直ちに避難", areas="石川県"),
        "qzss": qzss(
            e.Dcx(provider=e.A3_FDMA, hazard=8, instruction=132, prefectures=(16,)).message(),
            at=datetime(2025, 7, 9, 22, 3, 5, tzinfo=UTC),
            ref="dcx:take-cover@1",
        ),
    }
    await _every_order(ledger, normalizer, reports, 2)


async def test_an_evacuation_from_l_alert_and_qzss_is_one_alert(ledger: Ledger, normalizer: Any) -> None:
    order = (SAMPLES / "lalert" / "anamizu_evacuation_order.xml").read_bytes()
    lalert = RawEvent(source="lalert", body=order, content_type="application/xml", tenant="anamizu", submitted_by="feed")
    parsed = parse(lalert, load_parsers())
    assert isinstance(parsed, list) and parsed
    sent = parsed[0].sent
    reports = {
        "lalert": lalert,
        "qzss": qzss(
            e.Dcx(provider=e.A3_LALERT, hazard=68, instruction=512, area=17461).message(),
            at=sent + timedelta(minutes=2),
            ref="dcx:evacuation@1",
        ),
    }
    await _every_order(ledger, normalizer, reports, 2)


async def test_a_relay_far_from_the_first_report_is_a_change_of_its_own(ledger: Ledger, normalizer: Any) -> None:
    n = await normalizer()
    await n.feed(jma("02_vtse41_otsunami_keiho.xml"))
    later = e.tsunami(datetime(2024, 1, 1, 9, 22, tzinfo=UTC), 4, [e.TsunamiRegion(360, 4)]).message()
    await n.feed(qzss(later, at=datetime(2024, 1, 1, 9, 23, tzinfo=UTC)))
    assert len(await n.routed()) == 2
