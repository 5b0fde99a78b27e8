"""Prometheus metrics: what an operator watches on the dashboard and alerts on.

Counters and histograms are updated where things happen (a channel worker finishing an attempt);
gauges that need a query (bus lag, quarantine size, feed freshness, J-Alert receiver health,
hand-offs waiting) are refreshed by a small
background task, so that a scrape never waits on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from broadcaster.logging import get_logger

log = get_logger(__name__)

# Latency buckets in seconds around the targets: 0.1 s embedded, 0.25 s Kafka, seconds for
# providers under load.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.attempts = Counter(
            "broadcaster_dispatch_attempts_total",
            "Dispatch attempts by channel and outcome",
            ["tenant", "channel", "status", "mode"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "broadcaster_ingest_to_send_seconds",
            "From the source's bytes received to the provider's answer, per accepted dispatch",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.send_time = Histogram(
            "broadcaster_send_seconds",
            "How long the provider took to answer",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lag = Gauge(
            "broadcaster_bus_lag_messages",
            "Messages not yet committed, per consumer group",
            ["group"],
            registry=self.registry,
        )
        self.quarantine = Gauge(
            "broadcaster_quarantine_unresolved",
            "Raw input refused and not yet resolved",
            registry=self.registry,
        )
        self.open_dispatches = Gauge(
            "broadcaster_dispatches_open",
            "Dispatches not final, by state",
            ["state"],
            registry=self.registry,
        )
        self.feed_age = Gauge(
            "broadcaster_feed_seconds_since_success",
            "Seconds since a feed was last polled successfully (since its first attempt if never)",
            ["source", "feed"],
            registry=self.registry,
        )
        self.feed_stale = Gauge(
            "broadcaster_feed_stale",
            "1 when a feed is older than its source's stale_after_minutes",
            ["source", "feed"],
            registry=self.registry,
        )
        self.receiver_age = Gauge(
            "broadcaster_jalert_receiver_seconds_since_heard",
            "Seconds since a J-Alert receiver was last heard by its bridge (mail, contact or file)",
            ["bridge", "receiver"],
            registry=self.registry,
        )
        self.receiver_silent = Gauge(
            "broadcaster_jalert_receiver_silent",
            "1 when a J-Alert receiver was not heard within its expected interval, or its bridge stopped reporting",
            ["bridge", "receiver"],
            registry=self.registry,
        )
        self.handoffs_waiting = Gauge(
            "broadcaster_handoffs_waiting",
            "Texts handed to officers to send by hand (緊急速報メール) and not yet confirmed as sent",
            registry=self.registry,
        )
        self.scheduler_up = Gauge(
            "broadcaster_scheduler_active",
            "1 when this process holds the scheduler lease",
            registry=self.registry,
        )
        self.scheduler_lease = Gauge(
            "broadcaster_scheduler_lease_seconds_remaining",
            "Seconds until the deployment's scheduler lease expires (negative: nobody renews it)",
            registry=self.registry,
        )
        # The consistency guard (docs/consistency.md): every medium says the same thing.
        self.consistency_open = Gauge(
            "broadcaster_consistency_alarms_open",
            "Surfaces of a medium that disagree with the ledger, or still show an older state past guard.lag_s",
            ["tenant", "channel", "surface"],
            registry=self.registry,
        )
        self.consistency_raised = Counter(
            "broadcaster_consistency_alarms_total",
            "Consistency alarms raised, by surface and problem (stale, differs)",
            ["tenant", "channel", "surface", "problem"],
            registry=self.registry,
        )
        self.consistency_detection = Histogram(
            "broadcaster_consistency_detection_seconds",
            "From when a medium should have shown a state to the guard's alarm that it does not",
            ["surface"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.refreshed = Gauge(
            "broadcaster_metrics_refreshed_timestamp_seconds",
            "When the queried gauges were last refreshed",
            registry=self.registry,
        )

    def record_attempt(
        self, tenant: str, channel: str, status: str, mode: str, latency_s: float | None, send_s: float | None
    ) -> None:
        self.attempts.labels(tenant, channel, status, mode).inc()
        if latency_s is not None and status == "accepted":
            self.latency.labels(channel).observe(latency_s)
        if send_s is not None:
            self.send_time.labels(channel).observe(send_s)

    def set_consistency_open(self, surfaces: Sequence[tuple[str, str, str]]) -> None:
        """The open alarms now, one per (tenant, channel, surface); others drop to zero."""
        self.consistency_open.clear()
        for labels in surfaces:
            self.consistency_open.labels(*labels).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


# One per process: every stage in the process reports to it.
METRICS = Metrics()


def feed_ages(settings: Any, db: Any) -> Callable[[], Awaitable[Sequence[Any]]]:
    """The enabled sources' feeds with their age and staleness, for GaugeRefresher(feeds=...)."""

    async def read() -> Sequence[Any]:
        from broadcaster.pipeline.feeds import freshness

        return await freshness(settings, db)

    return read


def receiver_health(settings: Any, db: Any) -> Callable[[], Awaitable[Sequence[Any]]]:
    """The J-Alert receivers the bridges reported, for GaugeRefresher(receivers=...)."""

    async def read() -> Sequence[Any]:
        from broadcaster.store.receivers import receivers

        hook = settings.hooks.get("jalert")
        return await receivers(db, bridge_silent_after_s=hook.bridge_silent_after_s if hook else 300.0)

    return read


class GaugeRefresher:
    """Refreshes the queried gauges every `interval` seconds."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        ledger: Any,
        bus: Any,
        groups: Sequence[tuple[str, Sequence[str]]],
        feeds: Callable[[], Awaitable[Sequence[Any]]] | None = None,
        receivers: Callable[[], Awaitable[Sequence[Any]]] | None = None,
        interval: float = 15.0,
    ) -> None:
        self.metrics = metrics
        self.ledger = ledger
        self.bus = bus
        self.groups = groups
        # Returns broadcaster.store.feeds.FeedFreshness rows (feed_ages below builds one).
        self.feeds = feeds
        # Returns broadcaster.store.receivers.ReceiverHealth rows (receiver_health above).
        self.receivers = receivers
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        from broadcaster.store import tables as t

        def counts(c: sa.Connection) -> tuple[int, dict[str, int], Any, int]:
            q = c.execute(
                sa.select(sa.func.count()).select_from(t.quarantine).where(t.quarantine.c.resolved.is_(False))
            ).scalar()
            handed = c.execute(
                sa.select(sa.func.count()).select_from(t.handoffs).where(t.handoffs.c.confirmed_at.is_(None))
            ).scalar()
            states = {
                r[0]: int(r[1])
                for r in c.execute(
                    sa.select(t.dispatches.c.state, sa.func.count())
                    .where(t.dispatches.c.state.in_(["pending", "sending", "failed", "held"]))
                    .group_by(t.dispatches.c.state)
                )
            }
            lease = c.execute(sa.select(t.leases.c.expires).where(t.leases.c.name == "scheduler")).scalar()
            return int(q or 0), states, lease, int(handed or 0)

        quarantined, states, lease, handed = await self.ledger.db.read(counts)
        self.metrics.quarantine.set(quarantined)
        self.metrics.handoffs_waiting.set(handed)
        # No row: no scheduler ever ran, or the last one stopped cleanly (the gauge keeps its last value).
        if lease is not None:
            self.metrics.scheduler_lease.set(lease.timestamp() - time.time())
        from broadcaster import scheduler

        active = scheduler._ACTIVE
        self.metrics.scheduler_up.set(1 if active is not None and active.active else 0)
        for state in ("pending", "sending", "failed", "held"):
            self.metrics.open_dispatches.labels(state).set(states.get(state, 0))
        for group, topics in self.groups:
            with contextlib.suppress(Exception):
                self.metrics.lag.labels(group).set(sum((await self.bus.lag(group, topics)).values()))
        if self.feeds is not None:
            for f in await self.feeds():
                if f.age_s is not None:
                    self.metrics.feed_age.labels(f.source, f.feed).set(f.age_s)
                    self.metrics.feed_stale.labels(f.source, f.feed).set(1 if f.stale else 0)
        if self.receivers is not None:
            for r in await self.receivers():
                if r.age_s is not None:
                    self.metrics.receiver_age.labels(r.key_id, r.name).set(r.age_s)
                self.metrics.receiver_silent.labels(r.key_id, r.name).set(1 if r.silent or r.bridge_silent else 0)
        self.metrics.refreshed.set(time.time())

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as e:  # metrics must never take the pipeline down
                log.warning("metrics_refresh_failed", error=str(e)[:200])
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="metrics-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
