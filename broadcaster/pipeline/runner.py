"""Running the stages of a process over its Runtime: all (`broadcaster run`) or one per worker.

Stage names: ``normalize``, ``route``, ``channel:<name>``, ``ledger``, ``redrive``, ``scheduler``,
``guard`` (the consistency guard), ``ingest:<name>``, and ``web``: the web server itself is built
and served by the composition root (broadcaster/app.py), over the same Runtime; here ``web`` only
means that this process's rules must stay fresh for the console.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from broadcaster.bus import Consumer, Handler
from broadcaster.bus.topics import dispatch_topic
from broadcaster.logging import get_logger
from broadcaster.pipeline.channel import ChannelStage
from broadcaster.pipeline.feeds import FeedStage
from broadcaster.pipeline.guard import ConsistencyGuard
from broadcaster.pipeline.redrive import Redriver
from broadcaster.pipeline.runtime import Runtime, consumer_groups, topic_specs
from broadcaster.pipeline.schedule import RouteBackground
from broadcaster.pipeline.scheduling import SchedulerStage

if TYPE_CHECKING:
    from broadcaster.metrics import GaugeRefresher

log = get_logger(__name__)
# How long `ready` waits for the channels' first warm-up (a healthy provider answers in far less).
WARM_READY_S = 2.0


@dataclass
class Pipeline:
    runtime: Runtime
    stages: Sequence[str]
    _consumers: list[Consumer] = field(default_factory=list)
    _redriver: Redriver | None = None
    _route_background: RouteBackground | None = None
    _feeds: list[FeedStage] = field(default_factory=list)
    _refresher: GaugeRefresher | None = None
    _scheduler: SchedulerStage | None = None
    _rules_stop: asyncio.Event | None = None
    _guard: ConsistencyGuard | None = None
    # Channel workers, for their adapters' warm-up (beside the consumers, never in their way).
    _channels: list[ChannelStage] = field(default_factory=list)
    _warm_stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        rt = self.runtime
        await rt.bus.ensure_topics(topic_specs(rt.settings))
        await rt.ledger.ensure_tenants((t.id, t.name) for t in rt.settings.tenants.values())
        tiers = rt.settings.pipeline.retry_tiers_s
        for stage in self.stages:
            if stage == "web":
                continue  # served by the composition root (broadcaster/app.py)
            if stage == "scheduler":
                self._scheduler = SchedulerStage(rt)
                self._tasks.append(asyncio.create_task(self._scheduler.run(), name="scheduler"))
                continue
            if stage == "guard":
                self._guard = ConsistencyGuard(rt.ledger, rt.adapters, rt.settings.guard)
                self._tasks.append(asyncio.create_task(self._guard.run(), name="guard"))
                continue
            if stage == "redrive":
                p = rt.settings.pipeline
                self._redriver = Redriver(
                    rt.bus, rt.ledger, after_s=p.redrive_after_s, interval_s=p.redrive_interval_s
                )
                self._tasks.append(asyncio.create_task(self._redriver.run(), name="redrive"))
                continue
            if stage.startswith("ingest:"):
                # A poller, not a consumer: it runs as a task, like the re-driver.
                feed = FeedStage(stage.split(":", 1)[1], rt.settings, rt.bus, rt.ledger)
                self._feeds.append(feed)
                self._tasks.append(asyncio.create_task(feed.run(), name=f"stage:{stage}"))
                continue
            handle: Handler
            if stage.startswith("channel:"):
                channel_stage = rt.channel_stage(stage.split(":", 1)[1])
                self._channels.append(channel_stage)
                group, topics, handle = channel_stage.group, [dispatch_topic(channel_stage.channel)], channel_stage.handle
                # Providers' connections opened now and kept open while idle, so that the first
                # alert after a restart or a quiet week does not open them (docs/benchmarks.md,
                # *Cold path*). A task of its own: a provider that is down never holds the start.
                self._tasks.append(
                    asyncio.create_task(channel_stage.keep_warm(self._warm_stop), name=f"warm:{stage}")
                )
            else:
                group, topics, handle = rt.handler(stage)
            consumer = rt.bus.consumer(group, topics, retry_tiers=tiers)
            self._consumers.append(consumer)
            self._tasks.append(asyncio.create_task(consumer.run(handle), name=f"stage:{stage}"))
            if stage == "route":
                # Beside the consumer: rule-file hot reload and dispatches that become due.
                self._route_background = RouteBackground(rt.bus, rt.ledger, rt.rules)
                self._tasks.append(asyncio.create_task(self._route_background.run(), name="route:background"))
        if "web" in self.stages and "route" not in self.stages:
            # The console's preview and decision table read the rules too: without the route
            # stage (whose background records each reload), this process keeps its copy fresh
            # itself, or an officer would preview with rules that no longer route.
            self._rules_stop = asyncio.Event()
            self._tasks.append(asyncio.create_task(rt.rules.watch(self._rules_stop), name="rules:watch"))
        if any(stage.startswith("channel:") for stage in self.stages):
            # Templates compile lazily: compiled here, on the renderer's own thread, the first
            # alert after a start does not wait for them (docs/benchmarks.md, *Cold path*).
            compiled = await rt.renderer.lane.run(rt.renderer.warm)
            log.info("templates_warmed", templates=compiled)
        log.info("pipeline_started", stages=list(self.stages))

    def start_metrics(self) -> None:
        """Keep the queried gauges (lag, quarantine, open dispatches) fresh for /metrics."""
        from broadcaster.metrics import METRICS, GaugeRefresher, feed_ages, receiver_health

        if self._refresher is None:
            rt = self.runtime
            self._refresher = GaugeRefresher(
                METRICS,
                ledger=rt.ledger,
                bus=rt.bus,
                groups=consumer_groups(rt.settings),
                feeds=feed_ages(rt.settings, rt.ledger.db),
                receivers=receiver_health(rt.settings, rt.ledger.db),
            )
            self._refresher.start()

    async def ready(self, within: float = 120.0) -> None:
        """Until every consumer holds its partitions (Kafka groups take seconds to form)."""
        await asyncio.wait_for(asyncio.gather(*(c.ready() for c in self._consumers)), within)
        if self._channels:
            # And the first warm-up, briefly: a provider that is down must not hold the start, and
            # a warm-up not over is not a pipeline that is not ready (the sends open what it did
            # not; it goes on beside them).
            limit = min(self.runtime.settings.pipeline.warm_timeout_s, WARM_READY_S)
            try:
                await asyncio.wait_for(asyncio.gather(*(c.warmed.wait() for c in self._channels)), limit)
            except TimeoutError:
                log.warning("channel_warm_slow", within_s=limit)
        log.info("pipeline_ready", stages=list(self.stages))

    async def wait(self) -> None:
        """Until a stage fails (raised) or all stop."""
        if not self._tasks:
            return
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]

    async def stop(self) -> None:
        self._warm_stop.set()
        for t in self._tasks:
            # A warm-up still waiting on a provider is of no use to a pipeline that stops.
            if (t.get_name() or "").startswith("warm:"):
                t.cancel()
        for c in self._consumers:
            await c.stop()
        if self._redriver is not None:
            await self._redriver.stop()
        if self._route_background is not None:
            await self._route_background.stop()
        for feed in self._feeds:
            await feed.stop()
        if self._scheduler is not None:
            await self._scheduler.stop()
        if self._rules_stop is not None:
            self._rules_stop.set()
        if self._guard is not None:
            await self._guard.stop()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(t, timeout=30)
        if self._refresher is not None:
            await self._refresher.stop()
        # The Runtime's services are closed by the composition root that made them.
        log.info("pipeline_stopped")
