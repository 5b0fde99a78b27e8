"""緊急速報メール through the pipeline: one dispatch and one request per carrier, the hand-off
recorded for the officers, only the kinds a town may send, and drills never on the live system."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from broadcaster.store import handoffs, reports
from tests.canaries import canary
from tests.fakes.carrier import FakeCarrierGateway
from tests.helpers import (
    TENANTS,
    Running,
    eventually,
    make_settings,
    manual,
    running_pipeline,
    submit_approved,
)

CARRIERS = ("docomo", "kddi", "softbank", "rakuten")
AREA_MAIL = tuple(f"area_mail_{c}" for c in CARRIERS)
TOKEN = canary("carrier-gateway-token")
RULES = f"""
rules:
  - name: evacuation-everywhere
    match: {{kind: [evacuation]}}
    channels: [website, {", ".join(AREA_MAIL)}]
    priority: flash
  - name: a-careless-rule-that-names-area-mail-for-an-eew
    match: {{kind: [eew, notice]}}
    channels: [website, {", ".join(AREA_MAIL)}]
    priority: flash
  - name: default
    default: true
    channels: [website]
"""
ORDER = {
    "kind": "evacuation",
    "event": "避難指示",
    "headline": "【警戒レベル４】川島地区に避難指示を発令しました",
    "description": "川島地区に避難指示を発令しました。危険な場所から全員避難してください。",
    "districts": ["kawashima"],
    "level": 4,
}


@asynccontextmanager
async def pipeline(tmp: Path, **channel: Any) -> AsyncIterator[Running]:
    rules = tmp / "rules" / "_default"
    rules.mkdir(parents=True)
    (rules / "10.yaml").write_text(RULES, encoding="utf-8")
    settings = make_settings(
        tmp,
        # The area is the municipality: 穴水町's JMA city code carries its JIS X 0402 code 174611.
        tenants={"anamizu": {**TENANTS["anamizu"], "areas": {"jma": ["1746100"]}}},
        rules_dir=tmp / "rules",
        channels={name: {"enabled": True, **channel} for name in AREA_MAIL},
    )
    async with running_pipeline(settings) as run:
        yield run


async def _records(run: Running, alert: str) -> list[dict[str, Any]] | None:
    found = [r for ch in AREA_MAIL for r in run.outbox("anamizu", ch) if r["alert"] == alert]
    return found or None


async def _alert(run: Running, kind: str) -> dict[str, Any] | None:
    done = [a for a in await reports.alerts(run.ledger, tenant="anamizu") if a["kind"] == kind and a["state"] == "done"]
    return done[0] if done else None


async def test_an_evacuation_order_is_handed_to_the_officers_once_per_carrier(tmp_path: Path) -> None:
    async with pipeline(tmp_path) as run:
        # An evacuation order waits for a second officer (docs/approval.md), who approves it.
        await submit_approved(run, manual(status="Actual", **ORDER))
        alert = await eventually(functools.partial(_alert, run, "evacuation"))

        async def four() -> list[Any] | None:
            rows = await handoffs.listed(run.ledger.db, "anamizu")
            return rows if len(rows) == 4 else None

        rows = await eventually(four)
        assert sorted(r.channel for r in rows) == sorted(AREA_MAIL)
        assert {r.alert_id for r in rows} == {alert["identifier"]}
        assert len({r.key for r in rows}) == 4, "one dispatch per carrier"
        for r in rows:
            assert r.area == "穴水町（174611）"
            assert 0 < len(r.title) <= 15 and 0 < len(r.body) <= 200
            assert "避難指示" in r.title and "川島" in r.body
            r.body.encode("shift_jis")
            assert not r.confirmed
        table = {row.channel: row for row in await reports.channel_table(run.ledger, tenant="anamizu")}
        assert all(table[ch].mode == "handoff" and table[ch].accepted == 1 for ch in AREA_MAIL)
        assert await handoffs.waiting(run.ledger.db, "anamizu") == 4


async def test_with_a_link_each_carrier_gets_one_request_and_an_eew_gets_none(tmp_path: Path) -> None:
    async with FakeCarrierGateway(TOKEN) as gateway, pipeline(
        tmp_path, options={"link": "json", "base_url": gateway.live_url}, credentials={"token": TOKEN}
    ) as run:
        await submit_approved(run, manual(status="Actual", **ORDER))
        await eventually(functools.partial(_alert, run, "evacuation"))
        await eventually(lambda: len(gateway.accepted()) == 4)
        sent = gateway.accepted()
        assert sorted(s["carrier"] for s in sent) == sorted(CARRIERS)
        assert {s["mode"] for s in sent} == {"actual"}
        assert {s["municipality"]["code"] for s in sent} == {"174611"}
        assert len({r.key for r in gateway.received}) == 4
        # An officer's notice (or a JMA EEW) that a rule names area mail for: the channel is left out.
        await run.submit(manual(status="Actual"))
        notice = await eventually(functools.partial(_alert, run, "notice"))
        assert await _records(run, notice["identifier"]) is None
        table = [r for r in await reports.channel_table(run.ledger, tenant="anamizu", alert_id=notice["identifier"])]
        assert [r.channel for r in table] == ["website"]
        assert len(gateway.received) == 4


async def test_a_drill_never_reaches_the_carriers_live_system(tmp_path: Path) -> None:
    async with FakeCarrierGateway(TOKEN) as gateway, pipeline(
        tmp_path, options={"link": "json", "base_url": gateway.live_url}, credentials={"token": TOKEN}
    ) as run:
        await run.submit(manual(status="Exercise", **ORDER))
        drill = await eventually(functools.partial(_alert, run, "evacuation"))
        records = await eventually(functools.partial(_records, run, drill["identifier"]))
        assert len(records) == 4 and {r["status"] for r in records} == {"Exercise"}
        assert gateway.received == []
        assert await handoffs.listed(run.ledger.db, "anamizu") == []
