"""Where the circulars meet the running pipeline: the shared scheduler, the board, the job handler."""

from __future__ import annotations

from typing import Any

from broadcaster.circulars.board import BoardPool, CircularBoard
from broadcaster.circulars.chain import Chain
from broadcaster.circulars.service import TICK, Circulars, payload_of
from broadcaster.logging import get_logger
from broadcaster.pipeline.adapters import AdapterPool
from broadcaster.scheduler import SchedulerService

log = get_logger(__name__)


def shared_scheduler(rt: Any) -> SchedulerService:
    """The process's one scheduler service: active in the scheduler stage, a client elsewhere
    (any process may add jobs to the shared store; only the lease holder runs them)."""
    service = rt.services.get("scheduler")
    if service is None:
        service = SchedulerService(rt.ledger.db)
        rt.services["scheduler"] = service
    assert isinstance(service, SchedulerService)
    return service


def circulars_of(rt: Any) -> Circulars:
    svc = rt.services.get("circulars")
    if svc is None:
        svc = Circulars(rt.settings, rt.ledger, rt.bus, rt.adapters, shared_scheduler(rt))
        rt.services["circulars"] = svc
    assert isinstance(svc, Circulars)
    return svc


def circular_pool(rt: Any) -> AdapterPool:
    """The adapters of the circular channel's worker: the board, and the runtime's for the rest."""
    return BoardPool(rt.adapters, CircularBoard(circulars_of(rt)))


def register_jobs(svc: Circulars) -> None:
    chain = Chain(svc)

    async def tick(payload: dict[str, Any]) -> None:
        tenant, circular_id = payload_of(payload)
        await chain.run(tenant, circular_id)

    svc.scheduler.handle(TICK, tick)
