"""Stage ``ingest:<name>``: a polled source (JMA's feeds) run inside the pipeline, and its alarm.

The poller is an adapter found by entry point (group ``broadcaster.feeds``); it knows its outside
system and nothing of the pipeline. This stage gives it a sink that publishes to ingest.raw and a
state store in the ledger's database, starts it, and every little while asks the stale-feed alarm
whether the officers must be told that the source has gone quiet (or is back).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from broadcaster import registry
from broadcaster.bus import Bus
from broadcaster.errors import ConfigError
from broadcaster.logging import get_logger
from broadcaster.model import RawEvent, now
from broadcaster.pipeline.feedwatch import StaleFeedAlarm
from broadcaster.pipeline.ingest import submit
from broadcaster.settings import Settings
from broadcaster.store.db import Database
from broadcaster.store.feeds import FeedFreshness, FeedStore, feed_freshness
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)

# Entries handed on are remembered this long (far beyond any feed's reach, and beyond the age
# after which a poller ignores an entry anyway).
SEEN_RETENTION = timedelta(days=30)
PRUNE_EVERY = timedelta(days=1)


class FeedPoller(Protocol):
    """What the stage needs of a poller adapter."""

    source: str
    label: str  # how officers know the source, e.g. 気象庁防災情報XML
    feeds: tuple[str, ...]  # the feeds whose freshness the alarm watches

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class BusSink:
    """The poller's sink: recorded in the ledger and durable on ingest.raw once `submit` returns."""

    def __init__(self, bus: Bus, ledger: Ledger) -> None:
        self.bus = bus
        self.ledger = ledger

    async def submit(self, raw: RawEvent) -> None:
        await submit(self.bus, raw, self.ledger)


class FeedStage:
    def __init__(
        self,
        name: str,
        settings: Settings,
        bus: Bus,
        ledger: Ledger,
        *,
        clock: Callable[[], datetime] = now,
        factory: Any | None = None,
    ) -> None:
        config = settings.ingest.get(name)
        if config is None or not config.enabled:
            enabled = [n for n, c in settings.ingest.items() if c.enabled]
            raise ConfigError(f"ingest {name!r} is not enabled; enabled: {', '.join(enabled) or 'none'}")
        if factory is None:
            factory = registry.load(registry.FEEDS, config.adapter or name)
        self.name = name
        self.store = FeedStore(ledger.db, name)
        self.poller: FeedPoller = factory(config, sink=BusSink(bus, ledger), store=self.store, clock=clock)
        self.alarm = StaleFeedAlarm(
            self.store,
            bus,
            ledger,
            # A source of one town (its own L-Alert relay) alarms only that town's officers.
            tenants=[owner] if (owner := getattr(config, "tenant", None)) else list(settings.tenants),
            label=self.poller.label,
            feeds=self.poller.feeds,
            stale_after=timedelta(minutes=config.stale_after_minutes),
            clock=clock,
        )
        self.retention = max(SEEN_RETENTION, timedelta(hours=2 * config.max_entry_age_h))
        # Often enough that the alarm follows the threshold closely, rarely enough to cost nothing.
        self.check_interval_s = min(60.0, config.stale_after_minutes * 60 / 4)
        self._clock = clock
        self._pruned = clock()
        self._stop = asyncio.Event()

    async def _prune(self) -> None:
        self._pruned = self._clock()
        try:
            forgotten = await self.store.prune(self._pruned - self.retention)
            if forgotten:
                log.info("feed_entries_pruned", source=self.name, count=forgotten)
        except Exception as e:  # housekeeping only; the poller must go on regardless
            log.error("feed_prune_failed", source=self.name, error=str(e)[:300])

    async def run(self) -> None:
        await self._prune()
        await self.poller.start()
        try:
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=self.check_interval_s)
                if self._stop.is_set():
                    break
                if self._clock() - self._pruned > PRUNE_EVERY:
                    await self._prune()
                try:
                    await self.alarm.check()
                except Exception as e:  # the database or bus is down; the next check tries again
                    log.error("feed_alarm_check_failed", source=self.name, error=str(e)[:300])
        finally:
            await self.poller.stop()

    async def stop(self) -> None:
        self._stop.set()


def watched_feeds(name: str, settings: Settings) -> tuple[str, ...]:
    """The feeds of an ingest source whose freshness counts: its settings', else the poller's defaults."""
    config = settings.ingest[name]
    if config.feeds:
        return tuple(config.feeds)
    factory = registry.try_load(registry.FEEDS, config.adapter or name)
    return tuple(getattr(factory, "default_feeds", ()))


async def freshness(settings: Settings, db: Database, at: datetime | None = None) -> list[FeedFreshness]:
    """Per enabled source and feed: when it last succeeded and whether that is stale.

    For `broadcaster status` and for metrics (age in seconds, a stale flag per feed). A source may
    name feeds that are shown but never stale (`info_feeds`: the QZSS reader's last message, which
    comes only when there is something to say).
    """
    at = at or now()
    out: list[FeedFreshness] = []
    for name, config in settings.ingest.items():
        if config.enabled:
            stale_after = timedelta(minutes=config.stale_after_minutes)
            out += await feed_freshness(db, name, watched_feeds(name, settings), at, stale_after)
            factory = registry.try_load(registry.FEEDS, config.adapter or name)
            info = tuple(getattr(factory, "info_feeds", ()))
            out += [replace(f, stale=False) for f in await feed_freshness(db, name, info, at, stale_after)]
    return out


def is_backup(name: str, settings: Settings) -> bool:
    """A source that needs no internet (a QZSS receiver): it says so with `internet = False`."""
    config = settings.ingest[name]
    factory = registry.try_load(registry.FEEDS, config.adapter or name)
    return getattr(factory, "internet", True) is False


def backup_only(rows: list[FeedFreshness], backups: set[str]) -> bool:
    """Every internet source's watched feeds are stale while a backup source is alive: what the
    console and `broadcaster status` say in so many words (docs/qzss.md, *Health*)."""
    internet = [f for f in rows if f.source not in backups and f.age_s is not None]
    alive = [f for f in rows if f.source in backups and f.last_success is not None and not f.stale]
    return bool(internet) and all(f.stale for f in internet) and bool(alive)
