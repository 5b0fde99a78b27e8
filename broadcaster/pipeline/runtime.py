"""What the stages and the web of a process share: the `Runtime`.

The ledger, the bus, the tenants, the hot-reloaded rules, the renderer, the adapters, the parsers,
the audiences, the scheduler client, the e-circulars and the LINE conversation, and the consumer
stages made from them (`Runtime.handler`). The composition root (broadcaster/app.py) builds one per
process and closes it; the pipeline (runner.py) runs stages over it and the web serves from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from broadcaster import registry
from broadcaster.bus import Bus, Handler, TopicSpec
from broadcaster.bus.topics import ALERTS, INGEST_RAW, RECEIPTS, dispatch_topic
from broadcaster.channels import ChannelProfile
from broadcaster.circulars.service import Circulars
from broadcaster.errors import ConfigError
from broadcaster.followers import Conversation
from broadcaster.parsing import SourceParser
from broadcaster.pipeline.adapters import AdapterPool
from broadcaster.pipeline.channel import ChannelStage
from broadcaster.pipeline.normalize import NormalizeStage
from broadcaster.pipeline.rollup import LedgerStage
from broadcaster.pipeline.route import RouteStage
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.pipeline.two_person import tenant_cancel_texts
from broadcaster.preference import personal_channels
from broadcaster.render.renderer import Renderer
from broadcaster.rules.library import RuleLibrary
from broadcaster.scheduler import SchedulerService
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


@dataclass(frozen=True)
class Runtime:
    """Everything the stages and the web of a process share, made once by the composition root
    (broadcaster/app.py), which also closes it: no part of it is made on first use or twice."""

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
    # The process's one scheduler service: it runs the jobs in the scheduler stage, and is only a
    # client of the shared job store elsewhere (any process adds jobs; the lease holder runs them).
    scheduler: SchedulerService
    circulars: Circulars
    # A channel whose worker sends through other adapters than `adapters`, by channel: the
    # e-circular's worker sends to the board, our own system (docs/circulars.md).
    channel_pools: Mapping[str, AdapterPool]
    # What LINE's webhook events do (adapters/outbound/line/conversation.py).
    conversation: Conversation

    def handler(self, stage: str) -> tuple[str, list[str], Handler]:
        """(group, topics, handler) of a consuming stage."""
        if stage == "normalize":
            normalize = NormalizeStage(
                self.bus, self.ledger, self.parsers, self.directory, self.settings.pipeline.retry_tiers_s
            )
            return normalize.group, [INGEST_RAW], normalize.handle
        if stage == "route":
            route = RouteStage(
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
            return route.group, [ALERTS], route.handle
        if stage == "ledger":
            rollup = LedgerStage(self.bus, self.ledger)
            return rollup.group, [RECEIPTS], rollup.handle
        if stage.startswith("channel:"):
            worker = self.channel_stage(stage.split(":", 1)[1])
            return worker.group, [dispatch_topic(worker.channel)], worker.handle
        raise ConfigError(f"unknown stage {stage!r}; stages: {', '.join(stage_names(self.settings))}")

    def channel_stage(self, channel: str) -> ChannelStage:
        """The worker of one channel (its consumer's handler, and its adapters' warm-up)."""
        if channel not in self.profiles:
            raise ConfigError(f"channel {channel!r} is not enabled; enabled: {', '.join(self.profiles)}")
        names = {t.id: t.name for t in self.settings.tenants.values()}
        adapters = self.channel_pools.get(channel, self.adapters)
        return ChannelStage(
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
