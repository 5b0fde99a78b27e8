"""Calling off a scheduled send: a call-off that did not happen is said and audited as such.

The send stays scheduled when the job store cannot be written; the officer must not be told it
was called off, and the audit log must not record an 'unschedule' while the send still fires.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from broadcaster.model import now
from broadcaster.pipeline import scheduled_sends
from broadcaster.scheduler import SchedulerService
from broadcaster.store import tables as t
from tests.web_helpers import WebEnv, client, web_env

DOC = {
    "tenant": "anamizu",
    "status": "Exercise",
    "msgType": "Alert",
    "kind": "notice",
    "event": "お知らせ",
    "headline": "予約した訓練のお知らせ",
    "description": "",
}
REFUSE_DELETE = (
    "CREATE TRIGGER refuse_unschedule BEFORE DELETE ON scheduled_jobs "
    "BEGIN SELECT RAISE(ABORT, 'the job store cannot be written'); END"
)


@pytest.fixture
async def env(tmp_path: Path) -> Any:
    async with web_env(tmp_path) as e:
        yield e


async def _actions(env: WebEnv) -> list[str]:
    rows = await env.ledger.db.read(lambda c: c.execute(sa.select(t.audit_log.c.action)).scalars().all())
    return list(rows)


async def test_a_job_store_failure_raises_and_a_missing_job_is_false(env: WebEnv) -> None:
    service = SchedulerService(env.ledger.db)
    try:
        job = await scheduled_sends.schedule_once(service, "anamizu", DOC, "officer:anamizu/tanaka", now() + timedelta(hours=1))
        await env.ledger.db.write(lambda c: c.exec_driver_sql(REFUSE_DELETE))
        with pytest.raises(Exception, match="cannot be written"):
            await service.remove(job)
        assert [j["id"] for j in await scheduled_sends.tenant_jobs(service, "anamizu")] == [job]
        await env.ledger.db.write(lambda c: c.exec_driver_sql("DROP TRIGGER refuse_unschedule"))
        assert await service.remove(job) is True
        assert await service.remove(job) is False, "a job that is gone is not an error, nor a success"
    finally:
        await service.stop()


async def test_a_failed_unschedule_is_reported_and_audited_as_failed(env: WebEnv) -> None:
    service = SchedulerService(env.ledger.db)
    try:
        job = await scheduled_sends.schedule_once(service, "anamizu", DOC, "officer:anamizu/tanaka", now() + timedelta(hours=1))
        await env.ledger.db.write(lambda c: c.exec_driver_sql(REFUSE_DELETE))
        async with client() as s:
            csrf = await env.login(s, "tanaka")

            async def call_off() -> tuple[int, str]:
                async with s.post(
                    f"{env.base}/t/anamizu/schedules/{job}/delete",
                    data={"csrf": csrf},
                    headers={"Origin": env.base},
                    allow_redirects=False,
                ) as r:
                    return r.status, await r.text()

            status, text = await call_off()
            assert status == 409, text
            assert "取り消せませんでした" in text
            assert [j["id"] for j in await scheduled_sends.tenant_jobs(service, "anamizu")] == [job], "still scheduled"
            actions = await _actions(env)
            assert "unschedule" not in actions
            assert "unschedule_failed" in actions

            # Once the store is writable again the call-off goes through and is audited as done.
            await env.ledger.db.write(lambda c: c.exec_driver_sql("DROP TRIGGER refuse_unschedule"))
            status, text = await call_off()
            assert status == 303, text
        assert await scheduled_sends.tenant_jobs(service, "anamizu") == []
        assert (await _actions(env)).count("unschedule") == 1
    finally:
        await service.stop()
