"""What the bus lost, the ledger re-drives: raw events, alerts and dispatches left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from broadcaster.store import reports
from tests.helpers import eventually, make_settings, manual, running_pipeline

FAST_REDRIVE = {"retry_tiers_s": [0.2, 0.5], "redrive_after_s": 0.5, "redrive_interval_s": 0.2}


async def _done(run: Any, n: int) -> bool:
    alerts = await reports.alerts(run.ledger)
    return len(alerts) == n and all(a["state"] == "done" for a in alerts)


async def test_a_raw_event_the_bus_lost_is_redriven_from_the_ledger(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, pipeline=FAST_REDRIVE)
    async with running_pipeline(settings) as run:
        raw = manual(headline="バスが失ったお知らせ")
        # Recorded at ingest, then the broker "lost" it: nothing was published.
        await run.ledger.record_received(raw)
        await eventually(lambda: _done(run, 1), timeout=20)
        rows = await reports.channel_table(run.ledger)
        assert rows
        assert all(r.accepted == r.dispatches for r in rows)


async def test_an_alert_and_a_dispatch_left_behind_are_redriven(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, pipeline=FAST_REDRIVE)
    async with running_pipeline(settings) as run:
        await run.submit(manual(headline="一通目"))
        await eventually(lambda: _done(run, 1), timeout=20)
        first = (await reports.alerts(run.ledger))[0]
        alert = await run.ledger.alert("anamizu", first["identifier"])
        assert alert is not None
        # A second alert recorded but never routed (the route stage's message was lost).
        raw = manual(headline="二通目")
        from adapters.ingest.manual import ManualAlertParser

        second = ManualAlertParser().parse(raw)[0]
        await run.ledger.record_ingest(raw, [second])
        await eventually(lambda: _done(run, 2), timeout=20)
        sent = {r.alert_id for r in await reports.channel_table(run.ledger)}
        assert second.identifier in sent
