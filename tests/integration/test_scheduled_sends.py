"""An officer's scheduled send enters the pipeline when it comes due, as the officer's own."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from broadcaster.model import now
from broadcaster.pipeline import scheduled_sends
from broadcaster.store import reports
from tests.helpers import eventually, make_settings, running_pipeline

DOC = {
    "tenant": "anamizu",
    "status": "Exercise",
    "msgType": "Alert",
    "kind": "notice",
    "event": "お知らせ",
    "headline": "予約した訓練のお知らせ",
    "description": "",
}


async def test_a_scheduled_send_goes_out_at_its_time(tmp_path: Path) -> None:
    async with running_pipeline(make_settings(tmp_path)) as run:
        service = run.runtime.scheduler
        await eventually(lambda: service.active, timeout=30)
        job = await scheduled_sends.schedule_once(service, "anamizu", DOC, "officer:anamizu/tanaka", now() + timedelta(seconds=1))
        assert [j["id"] for j in await scheduled_sends.tenant_jobs(service, "anamizu")] == [job]
        assert await scheduled_sends.tenant_jobs(service, "wajima") == []

        async def sent() -> list[dict[str, object]]:
            return [a for a in await reports.alerts(run.ledger, tenant="anamizu") if a["state"] == "done"]

        alerts = await eventually(sent, timeout=30)
        assert alerts[0]["headline"] == "予約した訓練のお知らせ"
        assert alerts[0]["status"] == "Exercise"
        assert await scheduled_sends.tenant_jobs(service, "anamizu") == [], "a one-off send is gone once sent"
