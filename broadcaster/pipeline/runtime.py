"""What the stages of a process share, built once from the settings: the `Runtime`.

The ledger, the bus, the tenants, the hot-reloaded rules, the renderer, the adapters and the
parsers, and the consumer stages made from them (`Runtime.handler`). The pipeline (runner.py)
runs stages over a Runtime; the web console reads the same Runtime, without the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from broadcaster import registry
from broadcaster.bus import Bus, Handler, TopicSpec
from broadcaster.bus.topics import ALERTS, INGEST_RAW, RECEIPTS, dispatch_topic
from broadcaster.channels import ChannelProfile
from broadcaster.errors import ConfigError
from broadcaster.parsing import SourceParser
from broadcaster.pipeline.adapters import AdapterPool, profile_of
from broadcaster.pipeline.channel import ChannelStage
from broadcaster.pipeline.normalize import NormalizeStage
from broadcaster.pipeline.rollup import LedgerStage
from broadcaster.pipeline.route import RouteStage
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.pipeline.two_person import tenant_cancel_texts
from broadcaster.preference import personal_channels
from broadcaster.render.renderer import Renderer
from broadcaster.rules.library import RuleLibrary
from broadcaster.settings import Settings
from broadcaster.store.audiences import Audiences
from broadcaster.store.ledger import Ledger


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

    async def aclose(self) -> None:
        """Close what the Runtime opened: the scheduler client, the adapters' connections, the
        renderer's thread. The bus and the ledger belong to whoever passed them in."""
        from broadcaster.pipeline.scheduling import close_scheduler

        await close_scheduler(self)
        await self.adapters.close()
        self.renderer.lane.close()

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
            s = self.channel_stage(stage.split(":", 1)[1])
            return s.group, [dispatch_topic(s.channel)], s.handle
        raise ConfigError(f"unknown stage {stage!r}; stages: {', '.join(stage_names(self.settings))}")

    def channel_stage(self, channel: str) -> ChannelStage:
        """The worker of one channel (its consumer's handler, and its adapters' warm-up)."""
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
        return s
