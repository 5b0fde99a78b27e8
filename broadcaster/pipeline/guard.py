"""The consistency guard: every few seconds, read back what each medium shows of each recent event
and compare it with the ledger's newest message on that channel (docs/consistency.md).

A medium that can be read back (the website's files, the L-Alert document as sent) is read
through its adapter (`broadcaster.channels.MediumReading`); any other is judged by its provider's
accepted record in the ledger. What each surface showed is kept per event (the console's 'state
per medium' view); a surface that disagrees, or is stale past `guard.lag_s`, opens an alarm that
the console and /metrics show until the surface agrees again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from broadcaster.channels import Carried, MediumReading
from broadcaster.consistency.judge import due_since, expected_on, judge, provider_record
from broadcaster.logging import get_logger
from broadcaster.metrics import METRICS
from broadcaster.model import Alert, now
from broadcaster.pipeline.adapters import AdapterPool
from broadcaster.settings import GuardSettings
from broadcaster.store import consistency
from broadcaster.store.consistency import Alarm, MediumState
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)


class ConsistencyGuard:
    def __init__(
        self,
        ledger: Ledger,
        adapters: AdapterPool,
        settings: GuardSettings,
        *,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.ledger = ledger
        self.adapters = adapters
        self.settings = settings
        self.clock = clock
        self._stop = asyncio.Event()

    async def check_event(
        self, tenant: str, event_key: str
    ) -> tuple[list[MediumState], list[Alarm], list[Alarm]]:
        """Read every medium of one event back, record what each shows; (states, raised, cleared)."""
        alerts, sent = await consistency.event(self.ledger.db, tenant, event_key)
        at = self.clock()
        states: list[MediumState] = []
        ids = [a.identifier for a in alerts]
        for channel in sorted({s.channel for s in sent}):
            expected = expected_on(alerts, sent, channel)
            if expected is None:
                continue
            due = due_since(expected, sent)
            adapter = None
            if self.adapters.mode(tenant, channel).live:
                adapter = self.adapters.get(tenant, channel)
            carried: list[Carried] = []
            if isinstance(adapter, MediumReading):
                try:
                    carried = await adapter.carried(ids)
                except Exception as e:  # unreadable: judged by the provider's record instead
                    log.error("medium_read_failed", tenant=tenant, channel=channel, error=str(e)[:300])
            if carried:
                source = "medium"
            else:
                carried = [provider_record(alerts, sent, channel)]
                source = "provider"
            carried_ids = {s.alert_id for s in sent if s.channel == channel}
            earlier = [a for a in alerts if a.identifier in carried_ids and _older(a, expected)]
            states += judge(channel, source, expected, carried, due, at, self.settings.lag_s, earlier)
        raised, cleared = await consistency.record(self.ledger.db, tenant, event_key, states, at)
        for a in raised:
            METRICS.consistency_raised.labels(a.tenant, a.channel, a.surface, a.problem).inc()
            if a.detection_s is not None:
                METRICS.consistency_detection.labels(a.surface).observe(max(0.0, a.detection_s))
            log.warning(
                "medium_disagrees",
                tenant=a.tenant,
                event_key=a.event_key,
                surface=a.surface,
                problem=a.problem,
                expected=a.expected_id,
                carried=a.carried_id,
            )
        for a in cleared:
            log.info("medium_agrees_again", tenant=a.tenant, event_key=a.event_key, surface=a.surface)
        return states, raised, cleared

    async def run_once(self) -> tuple[list[Alarm], list[Alarm]]:
        since = self.clock() - timedelta(hours=self.settings.lookback_h)
        raised: list[Alarm] = []
        cleared: list[Alarm] = []
        for tenant, event_key in await consistency.recent_events(self.ledger.db, since):
            _, r, c = await self.check_event(tenant, event_key)
            raised += r
            cleared += c
        open_now = await consistency.alarms(self.ledger.db)
        METRICS.set_consistency_open([(a.tenant, a.channel, a.surface) for a in open_now])
        return raised, cleared

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception as e:  # the database is down; look again next round
                log.error("consistency_check_failed", error=str(e)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.settings.interval_s)

    async def stop(self) -> None:
        self._stop.set()


def _older(a: Alert, b: Alert) -> bool:
    # "Older" as the ledger and the website have it: by the source's sent, then by reception.
    return (a.sent, a.received or a.sent, a.identifier) < (b.sent, b.received or b.sent, b.identifier)
