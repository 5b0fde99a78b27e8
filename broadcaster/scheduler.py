"""Scheduled work (scheduled and recurring sends, circular reminders and escalation).

APScheduler 3 runs the jobs, with its SQLAlchemy job store on the ledger's database, so jobs
survive restarts. Exactly one scheduler is active in a deployment however many processes run:
each process competes for a lease row; only the holder starts its scheduler, renews the lease,
and stops at once if it ever loses it. A process that dies loses the lease when it expires, and
another takes over with the same persisted jobs.

Jobs are stored by name, not as closures: `schedule(kind, payload, ...)` persists
`run_job(kind, payload)`, and `run_job` looks up the handler that the running service registered
for `kind`. Handlers are async functions taking the payload (a JSON-able dict).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from broadcaster.logging import get_logger
from broadcaster.model import now
from broadcaster.store import tables as t
from broadcaster.store.db import Database

log = get_logger(__name__)

JobHandler = Callable[[dict[str, Any]], Awaitable[None]]
LEASE = "scheduler"

# The service whose handlers run the persisted jobs of this process (set while it is active).
_ACTIVE: SchedulerService | None = None


async def run_job(kind: str, payload: dict[str, Any]) -> None:
    """The one callable every persisted job names."""
    service = _ACTIVE
    if service is None:
        raise RuntimeError("a scheduled job ran with no active scheduler service")
    handler = service.handlers.get(kind)
    if handler is None:
        log.error("scheduled_job_unknown", kind=kind)
        return
    await handler(payload)


def sync_url(db_url: str) -> str:
    """The same database through a synchronous driver, for APScheduler's job store."""
    if db_url.startswith("sqlite"):
        return "sqlite:///" + db_url.split(":///", 1)[1]
    if db_url.startswith("postgresql"):
        rest = db_url.split("://", 1)[1]
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unsupported database URL for the scheduler: {db_url}")


class Lease:
    """A named lease in the ledger: at most one holder at a time, until it expires."""

    def __init__(self, db: Database, name: str, holder: str, ttl: timedelta) -> None:
        self.db = db
        self.name = name
        self.holder = holder
        self.ttl = ttl

    async def acquire(self) -> bool:
        at = now()

        def work(c: sa.Connection) -> bool:
            row = c.execute(sa.select(t.leases).where(t.leases.c.name == self.name)).first()
            if row is None:
                c.execute(t.leases.insert().values(name=self.name, holder=self.holder, expires=at + self.ttl))
                return True
            if row.holder != self.holder and row.expires > at:
                return False
            c.execute(
                t.leases.update()
                .where(t.leases.c.name == self.name, t.leases.c.holder == row.holder)
                .values(holder=self.holder, expires=at + self.ttl)
            )
            return True

        return await self.db.write(work)

    async def release(self) -> None:
        await self.db.write(
            lambda c: c.execute(t.leases.delete().where(t.leases.c.name == self.name, t.leases.c.holder == self.holder))
        )


class SchedulerService:
    def __init__(self, db: Database, *, ttl_s: float = 30.0, renew_s: float = 10.0) -> None:
        self.db = db
        self.handlers: dict[str, JobHandler] = {}
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = Lease(db, LEASE, self.holder, timedelta(seconds=ttl_s))
        self.renew_s = renew_s
        self.active = False
        self._scheduler: AsyncIOScheduler | None = None
        self._task: asyncio.Task[None] | None = None
        self._store = SQLAlchemyJobStore(url=sync_url(db.url), tablename="scheduled_jobs")

    def handle(self, kind: str, handler: JobHandler) -> None:
        self.handlers[kind] = handler

    # -- scheduling (from any process: the job store is shared) --------------------------------

    def _client(self) -> AsyncIOScheduler:
        """The scheduler, started paused: any process may add jobs to the shared store, and only
        the lease holder resumes it to run them."""
        if self._scheduler is None:
            self._scheduler = AsyncIOScheduler(jobstores={"default": self._store}, timezone="UTC")
            self._scheduler.start(paused=True)
        return self._scheduler

    def schedule_at(self, job_id: str, when: datetime, kind: str, payload: dict[str, Any]) -> None:
        self._client().add_job(
            run_job,
            DateTrigger(run_date=when),
            args=[kind, payload],
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,  # late is better than never: a missed reminder still goes
            coalesce=True,
        )

    def schedule_cron(self, job_id: str, cron: str, kind: str, payload: dict[str, Any], tz: str = "Asia/Tokyo") -> None:
        self._client().add_job(
            run_job,
            CronTrigger.from_crontab(cron, timezone=tz),
            args=[kind, payload],
            id=job_id,
            replace_existing=True,
            misfire_grace_time=3600,
            coalesce=True,
        )

    def cancel(self, job_id: str) -> bool:
        """Remove a job; False when there was none (it ran, or was removed already).

        Any other failure (the job store cannot be written) raises: the job is still there and
        will run, and the caller must not say it was called off.
        """
        try:
            self._client().remove_job(job_id)
        except JobLookupError:
            return False
        return True

    def jobs(self) -> list[dict[str, Any]]:
        return [
            {"id": j.id, "next_run": j.next_run_time, "kind": j.args[0], "payload": j.args[1]}
            for j in self._client().get_jobs()
        ]

    # -- the same from the event loop ---------------------------------------------------------
    # APScheduler's job store is synchronous database I/O: a web handler or a job that waited on
    # it would hold up every other request and stage of the process (docs/architecture.md, *Off
    # the event loop*). The scheduler itself is made on the loop (it binds to it), the store's
    # work is done on a thread; APScheduler serialises its store calls with a lock.

    async def add_at(self, job_id: str, when: datetime, kind: str, payload: dict[str, Any]) -> None:
        self._client()
        await asyncio.to_thread(self.schedule_at, job_id, when, kind, payload)

    async def add_cron(
        self, job_id: str, cron: str, kind: str, payload: dict[str, Any], tz: str = "Asia/Tokyo"
    ) -> None:
        self._client()
        await asyncio.to_thread(self.schedule_cron, job_id, cron, kind, payload, tz)

    async def remove(self, job_id: str) -> bool:
        """`cancel` off the loop: False when there was no such job, raises when it is still there."""
        self._client()
        return await asyncio.to_thread(self.cancel, job_id)

    async def list_jobs(self) -> list[dict[str, Any]]:
        self._client()
        return await asyncio.to_thread(self.jobs)

    # -- running (only the lease holder) -------------------------------------------------------

    async def run(self) -> None:
        global _ACTIVE
        scheduler = self._client()
        try:
            while True:
                held = await self._try_lease()
                if held and not self.active:
                    _ACTIVE = self
                    scheduler.resume()
                    self.active = True
                    log.info("scheduler_active", holder=self.holder)
                elif not held and self.active:
                    # Someone else holds the lease now: stop at once, never run jobs twice.
                    scheduler.pause()
                    self.active = False
                    log.warning("scheduler_lease_lost", holder=self.holder)
                elif self.active:
                    # Jobs added by other processes go straight to the store; look again.
                    scheduler.wakeup()
                await asyncio.sleep(self.renew_s)
        finally:
            if scheduler.state != 0:
                scheduler.shutdown(wait=False)
            if self.active:
                with contextlib.suppress(Exception):
                    await self.lease.release()
            self.active = False
            if _ACTIVE is self:
                _ACTIVE = None

    async def _try_lease(self) -> bool:
        try:
            return await self.lease.acquire()
        except Exception as e:  # the database is away: keep what we have until it expires
            log.warning("scheduler_lease_unreachable", error=str(e)[:200])
            return self.active

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._scheduler is not None and self._scheduler.state != 0:
            self._scheduler.shutdown(wait=False)
        self._store.engine.dispose()
