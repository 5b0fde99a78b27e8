"""The ``scheduler`` stage: this process competes for the deployment's scheduler lease.

Every ``broadcaster run`` and every ``broadcaster worker scheduler`` runs it; whichever holds the
lease runs the persisted jobs (broadcaster/scheduler.py), the others stand by and take over when
it dies. Jobs are added from any process (the circular channel's worker, the web pages) through
the same service, which then only writes to the shared job store.
"""

from __future__ import annotations

import asyncio

from broadcaster.circulars.wiring import register_jobs, schedule_sweep
from broadcaster.coverage import flags as coverage_flags
from broadcaster.logging import get_logger
from broadcaster.pipeline.runtime import Runtime
from broadcaster.pipeline.scheduled_sends import register as register_sends
from broadcaster.store.retention import schedule_retention

log = get_logger(__name__)


class SchedulerStage:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.service = rt.scheduler
        # Handlers by job kind; a job whose kind no handler claims is logged and dropped.
        self.circulars = rt.circulars
        register_jobs(self.circulars)
        coverage_flags.register(self.circulars)
        register_sends(self.service, rt.bus, rt.ledger)
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self.service.start()
        try:
            schedule_sweep(self.circulars)
        except Exception as e:  # the job store is away: the next start adds it
            log.warning("scheduler_sweep_not_scheduled", error=str(e)[:200])
        try:
            # Every minute: districts under-reached go to their leaders (docs/coverage.md).
            coverage_flags.schedule(self.circulars)
        except Exception as e:  # the job store is away: the next start adds it
            log.warning("coverage_sweep_not_scheduled", error=str(e)[:200])
        try:
            # Daily: dispatches forget their recipients after the retention period (docs/privacy.md).
            schedule_retention(self.service, self.rt.ledger, self.rt.settings)
        except Exception as e:  # the job store is away: the next start adds it
            log.warning("retention_not_scheduled", error=str(e)[:200])
        try:
            await self._stop.wait()
        finally:
            await self.service.stop()

    async def stop(self) -> None:
        self._stop.set()

