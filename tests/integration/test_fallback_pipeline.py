"""Residents' channels through the whole pipeline: LINE unreachable falls back to a voice call,
a resident without a smartphone is called directly, an SMS a landline cannot take falls back to a
call; every resident's outcome (the key pressed included) is in the ledger."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from broadcaster.status import collect_status, render_status
from broadcaster.store import reach
from broadcaster.store import tables as t
from broadcaster.store.audiences import address_hash
from tests.fakes.ari import Callee, FakeAri
from tests.fakes.deliveries import user_ids
from tests.fakes.line import FakeLine
from tests.fakes.twilio import FakeTwilio
from tests.helpers import TENANTS, eventually, make_settings, manual, running_pipeline

LINE_TOKEN = "line-token-for-the-fallback-test"


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[tuple[FakeLine, FakeAri, FakeTwilio]]:
    async with FakeLine(token=LINE_TOKEN) as line, FakeAri(tmp_path / "voice") as ari, FakeTwilio() as sms:
        yield line, ari, sms


def _settings(tmp_path: Path, line: FakeLine, ari: FakeAri, sms: FakeTwilio) -> Any:
    tenants = copy.deepcopy(TENANTS)
    tenants["anamizu"]["channels"] = {
        "line": {"credentials": {"token": LINE_TOKEN}, "options": {"base_url": line.url}, "timeout_s": 5},
        "voice": {
            "credentials": {"ari_user": ari.user, "ari_password": ari.password},
            "options": {"ari_url": ari.url, "media_dir": str(ari.media_dir), "retry_after_s": 0, "dtmf_timeout_s": 0.3},
            "timeout_s": 60,
        },
        "sms": {
            "credentials": {"account_sid": sms.account_sid, "auth_token": sms.auth_token},
            "options": {"base_url": sms.url, "sender": "+815012345678", "receipt_wait_s": 2, "receipt_every_s": 0.05},
            "timeout_s": 20,
        },
    }
    channels = {name: {} for name in ("website", "line", "email", "voice", "sms")}
    return make_settings(tmp_path, tenants=tenants, channels=channels)


async def _outcomes(run: Any) -> list[Any]:
    def work(c: sa.Connection) -> list[Any]:
        r = t.recipient_outcomes
        return list(c.execute(sa.select(r.c.channel, r.c.address_hash, r.c.outcome, r.c.reached, r.c.fallback_to)))

    return await run.ledger.db.read(work)


async def test_each_resident_is_reached_on_their_next_channel(
    tmp_path: Path, fakes: tuple[FakeLine, FakeAri, FakeTwilio]
) -> None:
    line, ari, sms = fakes
    line.monthly_limit = 0  # LINE refuses everything: the dispatch ends dead
    a_line, c_line = user_ids(2)
    sms.landlines = {"+81768520004"}
    ari.callees = {"0768520001": Callee(digit="0"), "0768520002": Callee(digit="1"), "0768520004": Callee(digit="0")}
    async with running_pipeline(_settings(tmp_path, line, ari, sms)) as run:
        await run.ledger.ensure_tenants([("anamizu", "穴水町")])
        aud = run.runtime.audiences
        # A: LINE first, then a call.  B: no smartphone.  C: LINE, no preference.  D: SMS, then a call.
        await aud.add("anamizu", districts=["kawashima"], endpoints={"line": a_line, "phone": "0768520001"},
                      channel_order=["line", "voice"])
        await aud.add("anamizu", districts=["kawashima"], endpoints={"phone": "0768520002"}, no_smartphone=True,
                      external_ref="R-0002")
        await aud.add("anamizu", districts=["kawashima"], endpoints={"line": c_line})
        await aud.add("anamizu", districts=["kawashima"], endpoints={"phone": "0768520004"}, channel_order=["sms", "voice"])
        await run.submit(manual(kind="evacuation", event="避難指示", headline="川島地区に避難指示",
                                description="川島地区に避難指示（警戒レベル4）を発令しました。直ちに避難してください。",
                                districts=["kawashima"], status="Exercise"))

        async def settled() -> list[Any] | None:
            rows = await _outcomes(run)
            voice = [r for r in rows if r.channel == "voice"]
            return rows if len(voice) == 3 else None

        rows = await eventually(settled, timeout=60)
        alert_id = next(iter(await run.ledger.db.read(
            lambda c: list(c.execute(sa.select(t.recipient_outcomes.c.alert_id)).scalars()))))
        summary = await reach.of_alert(run.ledger.db, "anamizu", alert_id)
        text = render_status(await collect_status(run.settings, run.bus, run.ledger))

        async def help_notice() -> Any:
            rows = await run.ledger.db.read(lambda c: list(c.execute(
                sa.select(t.alerts.c.identifier, t.alerts.c.status, t.alerts.c.data).where(
                    t.alerts.c.identifier.like("sys-help-%")))))
            return rows or None

        (notice,) = await eventually(help_notice, timeout=20)

    by = {(r.channel, r.address_hash): r for r in rows}
    h = address_hash
    # A: LINE failed, the call went through and A pressed 0.
    assert by[("line", h("line", a_line))].fallback_to == "voice"
    assert by[("voice", h("phone", "0768520001"))].outcome == "heard"
    # B was never sent LINE (no smartphone) and asked for help.
    assert ("line", h("line", "0768520002")) not in by
    assert by[("voice", h("phone", "0768520002"))].outcome == "help"
    # C has no preference: LINE failed for C and nothing else was tried.
    assert by[("line", h("line", c_line))].fallback_to is None
    # D: the landline could not take the SMS (30006); the call reached D.
    assert by[("sms", h("phone", "0768520004"))].outcome == "not_mobile"
    assert by[("sms", h("phone", "0768520004"))].fallback_to == "voice"
    assert by[("voice", h("phone", "0768520004"))].outcome == "heard"
    assert sorted(c.number for c in ari.calls) == ["0768520001", "0768520002", "0768520004"]
    assert [m.to for m in sms.messages] == ["+81768520004"]
    assert {(s.channel, s.outcome): s.people for s in summary}[("voice", "heard")] == 2
    assert "voice heard 2" in text and "NEED HELP: 1 resident(s) pressed 1" in text
    # The duty officers are told at once, by the roster id, never the phone number.
    assert notice.status == "System" and "R-0002" in str(notice.data) and "0768520002" not in str(notice.data)
