"""The scheduler: persisted jobs, and exactly one active scheduler however many processes run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from broadcaster.model import now
from broadcaster.scheduler import SchedulerService
from broadcaster.store.ledger import Ledger


async def _until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("not in time")
        await asyncio.sleep(0.05)


def _service(ledger: Ledger, ran: list[tuple[str, dict[str, Any]]], name: str) -> SchedulerService:
    service = SchedulerService(ledger.db, ttl_s=1.5, renew_s=0.2)

    async def handler(payload: dict[str, Any]) -> None:
        ran.append((name, payload))

    service.handle("note", handler)
    return service


async def test_a_job_runs_once_at_its_time(ledger: Ledger) -> None:
    ran: list[tuple[str, dict[str, Any]]] = []
    service = _service(ledger, ran, "a")
    service.start()
    try:
        await _until(lambda: service.active)
        service.schedule_at("j1", now() + __import__("datetime").timedelta(seconds=0.5), "note", {"n": 1})
        await _until(lambda: len(ran) == 1)
        await asyncio.sleep(0.5)
        assert ran == [("a", {"n": 1})]
        assert service.jobs() == [], "a one-off job is gone once run"
    finally:
        await service.stop()


async def test_only_one_scheduler_is_active_and_another_takes_over(ledger: Ledger) -> None:
    from datetime import timedelta

    ran: list[tuple[str, dict[str, Any]]] = []
    a, b = _service(ledger, ran, "a"), _service(ledger, ran, "b")
    a.start()
    await _until(lambda: a.active)
    b.start()
    await asyncio.sleep(0.8)
    assert not b.active, "the lease is held"
    for n in range(3):
        b.schedule_at(f"j{n}", now() + timedelta(seconds=0.3), "note", {"n": n})
    await _until(lambda: len(ran) == 3)
    assert {who for who, _ in ran} == {"a"}, "jobs added anywhere run on the active one, once"
    await a.stop()  # releases the lease
    await _until(lambda: b.active, timeout=10)
    b.schedule_at("late", now() + timedelta(seconds=0.3), "note", {"n": 9})
    await _until(lambda: len(ran) == 4)
    assert ran[-1] == ("b", {"n": 9})
    await b.stop()


async def test_jobs_survive_a_restart(ledger: Ledger) -> None:
    from datetime import timedelta

    ran: list[tuple[str, dict[str, Any]]] = []
    first = _service(ledger, ran, "first")
    first.schedule_at("later", now() + timedelta(seconds=1.0), "note", {"kept": True})
    await first.stop()  # never active: it only wrote the job
    second = _service(ledger, ran, "second")
    second.start()
    try:
        await _until(lambda: len(ran) == 1)
        assert ran == [("second", {"kept": True})]
    finally:
        await second.stop()
