"""Where the circulars meet the running pipeline: the shared scheduler, the board, the job handler."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from broadcaster.bus import Bus
from broadcaster.circulars import steps
from broadcaster.circulars.board import BoardPool, CircularBoard
from broadcaster.circulars.chain import Chain
from broadcaster.circulars.service import TICK, Circulars, job_id, payload_of
from broadcaster.logging import get_logger
from broadcaster.pipeline.adapters import AdapterPool
from broadcaster.scheduler import SchedulerService
from broadcaster.settings import Settings
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)

SWEEP = "circular.sweep"
SWEEP_CRON = "*/10 * * * *"
# A job that failed or died is tried again this much later.
RETRY = timedelta(minutes=1)


class SharedParts(Protocol):
    """What the circulars take from the pipeline's Runtime (named here so as not to import it)."""

    settings: Settings
    bus: Bus
    ledger: Ledger
    adapters: AdapterPool
    # The services made on first use, by name: "scheduler", "circulars".
    services: dict[str, Any]


def shared_scheduler(rt: SharedParts) -> SchedulerService:
    """The process's one scheduler service: active in the scheduler stage, a client elsewhere
    (any process may add jobs to the shared store; only the lease holder runs them)."""
    service = rt.services.get("scheduler")
    if service is None:
        service = SchedulerService(rt.ledger.db)
        rt.services["scheduler"] = service
    assert isinstance(service, SchedulerService)
    return service


def circulars_of(rt: SharedParts) -> Circulars:
    svc = rt.services.get("circulars")
    if svc is None:
        svc = Circulars(rt.settings, rt.ledger, rt.bus, rt.adapters, shared_scheduler(rt))
        rt.services["circulars"] = svc
    assert isinstance(svc, Circulars)
    return svc


def circular_pool(rt: SharedParts) -> AdapterPool:
    """The adapters of the circular channel's worker: the board, and the runtime's for the rest."""
    return BoardPool(rt.adapters, CircularBoard(circulars_of(rt)))


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
