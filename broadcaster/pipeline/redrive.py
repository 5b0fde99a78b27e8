"""Re-drive from the ledger: what the bus lost, the ledger still knows (docs/decisions.md, decision 5).

A raw event recorded at ingest but never normalized, an alert recorded but never routed, and a
dispatch that is not final and has not moved for `redrive_after` are published again. Re-driving something that was only slow
costs nothing: the channel worker finds it final, or sends it once with the same idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from broadcaster.bus import Bus, Outgoing
from broadcaster.logging import get_logger
from broadcaster.model import Alert
from broadcaster.pipeline.hops import H_RECEIVED, H_REDRIVE, H_TENANT
from broadcaster.pipeline.ingest import publish_raw
from broadcaster.pipeline.messages import alert_message, order_message
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)


class Redriver:
    def __init__(self, bus: Bus, ledger: Ledger, *, after_s: float, interval_s: float) -> None:
        self.bus = bus
        self.ledger = ledger
        self.after = timedelta(seconds=after_s)
        self.interval_s = interval_s
        self._stop = asyncio.Event()

    async def run_once(self) -> tuple[int, int]:
        for raw in await self.ledger.unprocessed_raw(self.after):
            await publish_raw(self.bus, raw, redrive=True)
            log.warning("raw_redriven", raw=raw.id, source=raw.source)
        dispatches = await self.ledger.stale_dispatches(self.after)
        messages: list[Outgoing] = []
        alerts: dict[tuple[str, str], Alert | None] = {}
        for d in dispatches:
            key = (d.tenant, d.alert_id)
            if key not in alerts:
                alerts[key] = await self.ledger.alert(*key)
            alert = alerts[key]
            if alert is None:
                continue
            messages.append(order_message(alert, d, {H_REDRIVE: "stale", H_TENANT: d.tenant}))
        unrouted = await self.ledger.unrouted_alerts(self.after)
        for alert in unrouted:
            messages.append(
                alert_message(
                    alert,
                    {
                        H_REDRIVE: "unrouted",
                        H_TENANT: alert.tenant or "",
                        H_RECEIVED: (alert.received or alert.sent).isoformat(),
                    },
                )
            )
        if messages:
            await self.bus.publish_many(messages)
            await self.ledger.touch_dispatches([d.key for d in dispatches])
            log.warning("redriven", dispatches=len(dispatches), alerts=len(unrouted))
        return len(dispatches), len(unrouted)

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception as e:  # the database or bus is down; try again next round
                log.error("redrive_failed", error=str(e)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)

    async def stop(self) -> None:
        self._stop.set()
