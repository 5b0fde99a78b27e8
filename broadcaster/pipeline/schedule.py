"""What the route stage does between messages: publish dispatches that became due, reload rules.

Runs beside the route consumer (`broadcaster run`, or `broadcaster worker route`). Both loops are
safe to run in several route workers at once: a due dispatch is claimed by one statement that only
one worker's update can win, and each worker reloads its own copy of the rules.
"""

from __future__ import annotations

import asyncio
import contextlib

from broadcaster.bus import Bus
from broadcaster.logging import get_logger
from broadcaster.model import Alert, now
from broadcaster.pipeline.hops import H_RECEIVED, H_ROUTED, H_TENANT
from broadcaster.pipeline.messages import order_message
from broadcaster.rules.library import ReloadEvent, RuleLibrary
from broadcaster.store import routing
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)

RULES_ACTOR = "system:rules"


class RouteBackground:
    def __init__(
        self,
        bus: Bus,
        ledger: Ledger,
        library: RuleLibrary | None,
        *,
        release_interval_s: float = 1.0,
        rules_interval_s: float = 0.5,
    ) -> None:
        self.bus = bus
        self.ledger = ledger
        self.library = library
        self.release_interval_s = release_interval_s
        self.rules_interval_s = rules_interval_s
        self._stop = asyncio.Event()

    async def release_once(self) -> int:
        dispatches = await routing.release_due(self.ledger.db)
        if not dispatches:
            return 0
        alerts: dict[tuple[str, str], Alert | None] = {}
        messages = []
        for d in dispatches:
            key = (d.tenant, d.alert_id)
            if key not in alerts:
                alerts[key] = await self.ledger.alert(*key)
            alert = alerts[key]
            if alert is None:
                continue
            headers = {
                H_TENANT: d.tenant,
                H_RECEIVED: (alert.received or alert.sent).isoformat(),
                H_ROUTED: now().isoformat(),
            }
            messages.append(order_message(alert, d, headers))
        # Claimed but not yet published if this fails: they are pending now, and the redriver
        # publishes pending dispatches that do not move.
        await self.bus.publish_many(messages)
        log.info("scheduled_released", dispatches=len(messages))
        return len(messages)

    async def _state(self, event: ReloadEvent) -> None:
        await routing.record_rules_state(
            self.ledger.db,
            event.tenant,
            digest=event.digest,
            files=event.files,
            rules=event.rules,
            active_since=event.active_since,
            error=event.error,
            error_at=event.error_at,
        )

    async def record(self, event: ReloadEvent) -> None:
        """A reload or a refusal: shown by `broadcaster rules status`, kept in the audit log."""
        await self._state(event)
        await self.ledger.audit(
            actor=RULES_ACTOR,
            action="rules_loaded" if event.ok else "rules_refused",
            tenant=event.tenant,
            target=event.digest[:16],
            detail={"files": event.files, "rules": event.rules, "error": (event.error or "")[:2000]},
        )

    async def _release_loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self.release_once()
            except Exception as e:  # the database or bus is down: try again next round
                log.error("scheduled_release_failed", error=str(e)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.release_interval_s)

    async def run(self) -> None:
        loops = [self._release_loop()]
        if self.library is not None:
            for event in self.library.events():
                try:
                    await self._state(event)
                except Exception as e:  # status is a convenience; routing goes on without it
                    log.warning("rules_state_not_recorded", tenant=event.tenant, error=str(e)[:200])
            loops.append(self.library.watch(self._stop, self.record, self.rules_interval_s))
        await asyncio.gather(*loops)

    async def stop(self) -> None:
        self._stop.set()
