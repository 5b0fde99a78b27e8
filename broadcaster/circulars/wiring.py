"""Where the circulars meet the scheduler: their jobs (a circular's next step, the sweep)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from broadcaster.circulars import steps
from broadcaster.circulars.chain import Chain
from broadcaster.circulars.service import TICK, Circulars, job_id, payload_of
from broadcaster.logging import get_logger

log = get_logger(__name__)

SWEEP = "circular.sweep"
SWEEP_CRON = "*/10 * * * *"
# A job that failed or died is tried again this much later.
RETRY = timedelta(minutes=1)


def register_jobs(svc: Circulars) -> None:
    chain = Chain(svc)

    async def tick(payload: dict[str, Any]) -> None:
        tenant, circular_id = payload_of(payload)
        # APScheduler removes a one-off job as it starts it: put a guard in its place first, so
        # that a run that dies (the process killed, the database away) is tried again.
        await svc.scheduler.add_at(job_id(circular_id), svc.clock() + RETRY, TICK, payload)
        try:
            await chain.run(tenant, circular_id)
        except Exception:
            log.exception("circular_job_failed", circular=circular_id)

    async def sweep(payload: dict[str, Any]) -> None:
        """The safety net: every circular with work left has its job (a lost one comes back)."""
        for tenant, circular_id in await steps.open_circulars(svc.db):
            await svc.schedule_tick(tenant, circular_id)

    svc.scheduler.handle(TICK, tick)
    svc.scheduler.handle(SWEEP, sweep)


def schedule_sweep(svc: Circulars) -> None:
    svc.scheduler.schedule_cron("circulars:sweep", SWEEP_CRON, SWEEP, {})
