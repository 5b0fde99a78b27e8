"""Assembling the stages: all in one process (`broadcaster run`) or one per worker process.

Stage names: ``normalize``, ``route``, ``channel:<name>``, ``ledger``, ``redrive``, ``scheduler``,
``guard`` (the consistency guard), ``ingest:<name>``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from broadcaster import registry
from broadcaster.bus import Bus, Consumer, Handler, TopicSpec
from broadcaster.bus.topics import ALERTS, INGEST_RAW, RECEIPTS, dispatch_topic
from broadcaster.channels import ChannelProfile
from broadcaster.errors import ConfigError
from broadcaster.logging import get_logger
from broadcaster.parsing import SourceParser
from broadcaster.pipeline.adapters import AdapterPool, profile_of
from broadcaster.pipeline.channel import ChannelStage
from broadcaster.pipeline.feeds import FeedStage
from broadcaster.pipeline.normalize import NormalizeStage
from broadcaster.pipeline.redrive import Redriver
from broadcaster.pipeline.rollup import LedgerStage
from broadcaster.pipeline.route import RouteStage
from broadcaster.pipeline.schedule import RouteBackground
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.pipeline.two_person import tenant_cancel_texts
from broadcaster.preference import personal_channels
from broadcaster.render.renderer import Renderer
from broadcaster.rules.library import RuleLibrary
from broadcaster.settings import Settings
from broadcaster.store.audiences import Audiences
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    n = settings.bus.partitions
    names = [INGEST_RAW, ALERTS, RECEIPTS] + [dispatch_topic(c) for c in settings.enabled_channels()]
    return [TopicSpec(name, n) for name in names]


def consumer_groups(settings: Settings) -> list[tuple[str, list[str]]]:
    """(group, topics) of every consuming stage: for lag in status and metrics."""
    groups = [("normalize", [INGEST_RAW]), ("route", [ALERTS]), ("ledger", [RECEIPTS])]
    groups += [(f"channel.{c}", [dispatch_topic(c)]) for c in settings.enabled_channels()]
    return groups


def stage_names(settings: Settings, *, web: bool = False) -> list[str]:
    """Every stage; `web` adds the web server (console, pages, hooks, API) when it is enabled."""
    names = ["normalize", "route", *(f"channel:{c}" for c in settings.enabled_channels()), "ledger", "redrive"]
    # Competes for the deployment's one scheduler lease (broadcaster/pipeline/scheduling.py).
    names.append("scheduler")
    if settings.guard.enabled:
        names.append("guard")
    names += [f"ingest:{name}" for name, feed in settings.ingest.items() if feed.enabled]
    if web and settings.web.enabled:
        names.append("web")
    return names


def load_parsers() -> list[SourceParser]:
    parsers: list[SourceParser] = []
    for name, cls in registry.load_all(registry.PARSERS).items():
        try:
            parsers.append(cls())
        except Exception as e:
            raise ConfigError(f"parser {name} cannot start: {e}") from e
    # The most specific first: a manual alert is recognised by its source, others by content.
    return sorted(parsers, key=lambda p: (p.name != "manual", p.name))


@dataclass
class Runtime:
    """Everything the stages share, built once from the settings."""

    settings: Settings
    bus: Bus
    ledger: Ledger
    directory: TenantDirectory
    # Hot-reloaded per tenant (broadcaster/rules/library.py); invalid rules fail start-up.
    rules: RuleLibrary
    profiles: dict[str, ChannelProfile]
    renderer: Renderer
    adapters: AdapterPool
    parsers: list[SourceParser]
    audiences: Audiences
    # Services stages share, made on first use: the scheduler client, the circulars (by name).
    services: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, bus: Bus, ledger: Ledger) -> Runtime:
        channels = settings.enabled_channels()
        return cls(
            settings=settings,
            bus=bus,
            ledger=ledger,
            directory=TenantDirectory.from_settings(settings),
            rules=RuleLibrary(
                settings.rules_dir,
                {t.id: [d.id for d in t.districts] for t in settings.tenants.values()},
                list(settings.channels),
            ),
            profiles={c: profile_of(settings, c) for c in channels},
            renderer=Renderer(settings.templates_dir),
            adapters=AdapterPool(settings),
            parsers=load_parsers(),
            audiences=Audiences(ledger.db),
        )

    def handler(self, stage: str) -> tuple[str, list[str], Handler]:
        """(group, topics, handler) of a consuming stage."""
        if stage == "normalize":
            s: Any = NormalizeStage(
                self.bus, self.ledger, self.parsers, self.directory, self.settings.pipeline.retry_tiers_s
            )
            return s.group, [INGEST_RAW], s.handle
        if stage == "route":
            s = RouteStage(
                self.bus,
                self.ledger,
                self.audiences,
                self.directory,
                self.rules.get,
                self.profiles,
                self.settings.pipeline.deadline_s,
                self.settings.pipeline.retry_tiers_s,
                cancel_texts=lambda tenant: tenant_cancel_texts(self.settings.templates_dir, tenant),
            )
            return s.group, [ALERTS], s.handle
        if stage == "ledger":
            s = LedgerStage(self.bus, self.ledger)
            return s.group, [RECEIPTS], s.handle
        if stage.startswith("channel:"):
            channel = stage.split(":", 1)[1]
            if channel not in self.profiles:
                raise ConfigError(f"channel {channel!r} is not enabled; enabled: {', '.join(self.profiles)}")
            names = {t.id: t.name for t in self.settings.tenants.values()}
            adapters = self.adapters
            if channel == "circular":
                # The e-circular is our own system: its worker sends to the board (docs/circulars.md).
                from broadcaster.circulars.wiring import circular_pool

                adapters = circular_pool(self)
            s = ChannelStage(
                channel,
                self.bus,
                self.ledger,
                adapters,
                self.renderer,
                self.profiles[channel],
                self.settings,
                names,
                personal_channels({c: p.addressing for c, p in self.profiles.items()}),
            )
            return s.group, [dispatch_topic(channel)], s.handle
        raise ConfigError(f"unknown stage {stage!r}; stages: {', '.join(stage_names(self.settings))}")


@dataclass
class Pipeline:
    runtime: Runtime
    stages: Sequence[str]
    _consumers: list[Consumer] = field(default_factory=list)
    _redriver: Redriver | None = None
    _route_background: RouteBackground | None = None
    _feeds: list[FeedStage] = field(default_factory=list)
    _web: Any = None
    _refresher: Any = None
    _scheduler: Any = None
    _rules_stop: asyncio.Event | None = None
    _guard: Any = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _started: asyncio.Event = field(default_factory=asyncio.Event)
    web_port: int | None = None

    async def start(self) -> None:
        rt = self.runtime
        await rt.bus.ensure_topics(topic_specs(rt.settings))
        await rt.ledger.ensure_tenants((t.id, t.name) for t in rt.settings.tenants.values())
        tiers = rt.settings.pipeline.retry_tiers_s
        for stage in self.stages:
            if stage == "web":
                from broadcaster.web.app import WebServer, build_app
                from broadcaster.web.context import WebContext

                ctx = WebContext.build(rt.settings, rt.ledger, rt.bus)
                ctx.extras["runtime"] = rt
                self._web = WebServer(build_app(ctx), rt.settings.web.host, rt.settings.web.port)
                self.web_port = await self._web.start()
                self.start_metrics()
                continue
            if stage == "scheduler":
                from broadcaster.pipeline.scheduling import SchedulerStage

                self._scheduler = SchedulerStage(rt)
                self._tasks.append(asyncio.create_task(self._scheduler.run(), name="scheduler"))
                continue
            if stage == "guard":
                from broadcaster.pipeline.guard import ConsistencyGuard

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
        if self._web is not None:
            await self._web.stop()
        from broadcaster.pipeline.scheduling import close_scheduler

        await close_scheduler(self.runtime)
        await self.runtime.adapters.close()
        log.info("pipeline_stopped")
