"""The composition root: what one process shares is made here, once, and closed here.

`open_runtime` builds the process's services (the `Runtime`: rules, renderer, adapters, parsers,
audiences, the scheduler client, the e-circulars, the LINE conversation) over the bus and the
ledger it is given, each one entered into an `AsyncExitStack` as it is made, so that leaving the
block closes every one of them, last made first, even when one of them fails to close.

`open_app` is the root of a long-running process: it opens the ledger (at a revision this code can
use, the one migration rule of broadcaster/store/migrate.py) and the bus, then the Runtime over
them, all in one `AsyncExitStack`, so that the stores close last, after every service that uses
them. `open_stores` enters the two stores into a stack the caller already holds.

`serving` runs a process over that Runtime: the stages (broadcaster/pipeline/runner.py) and, when
``web`` is among them, the web server (broadcaster/web/app.py), which is handed the same Runtime.
Nothing below builds services of its own: the web does not make a second Runtime when no pipeline
runs, and nothing is made on first use (docs/architecture.md, *Composition root*).

Every process starts here: `broadcaster run` and `worker` (web-only too) through `open_app`; the
demo, the drill, the replay and the tests' running pipeline bring stores of their own (a fresh or
sandboxed database) to `open_runtime`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from broadcaster import registry
from broadcaster.bus import Bus, open_bus
from broadcaster.circulars.service import Circulars
from broadcaster.followers import Conversation, StoreDesk
from broadcaster.line_links import CHANNEL as LINE
from broadcaster.parsing import SourceParser
from broadcaster.pipeline.adapters import AdapterPool, profile_of
from broadcaster.pipeline.circular_pool import circular_pool
from broadcaster.pipeline.runner import Pipeline
from broadcaster.pipeline.runtime import Runtime, load_parsers
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.render.renderer import Renderer
from broadcaster.rules.library import RuleLibrary
from broadcaster.scheduler import SchedulerService
from broadcaster.settings import Settings
from broadcaster.store.audiences import Audiences
from broadcaster.store.ledger import Ledger
from broadcaster.store.migrate import open_current
from broadcaster.web.app import WebServer, build_app
from broadcaster.web.context import WebContext
from broadcaster.web.health import metrics_host


def line_conversation(settings: Settings, ledger: Ledger) -> Conversation:
    """What LINE's webhook events do: the LINE channel's own (found by its entry point), reaching
    the town's records through the core's desk (broadcaster/followers.py)."""
    line: Any = registry.load(registry.CHANNELS, LINE)
    conversation: Conversation = line.conversation(settings, StoreDesk(settings, ledger))
    return conversation


async def open_stores(stack: AsyncExitStack, settings: Settings) -> tuple[Bus, Ledger]:
    """The bus and the ledger of `settings`, started, each closed by `stack`: the ledger is
    entered first so that it closes last (the bus's closing may still settle a write)."""
    ledger = await open_current(settings, synchronous=settings.bus.sqlite_synchronous)
    stack.push_async_callback(ledger.close)
    bus = open_bus(settings.bus)
    await bus.start()
    stack.push_async_callback(bus.close)
    return bus, ledger


@asynccontextmanager
async def open_app(
    settings: Settings,
    *,
    adapters: AdapterPool | None = None,
    parsers: Sequence[SourceParser] | None = None,
    audiences: Audiences | None = None,
) -> AsyncIterator[Runtime]:
    """The stores and the Runtime over them, in one stack: leaving the block closes the services
    first, then the bus, then the ledger (the parts are those of `open_runtime`)."""
    async with AsyncExitStack() as stack:
        bus, ledger = await open_stores(stack, settings)
        yield await stack.enter_async_context(
            open_runtime(settings, bus, ledger, adapters=adapters, parsers=parsers, audiences=audiences)
        )


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    bus: Bus,
    ledger: Ledger,
    *,
    adapters: AdapterPool | None = None,
    parsers: Sequence[SourceParser] | None = None,
    audiences: Audiences | None = None,
) -> AsyncIterator[Runtime]:
    """The process's services, closed when the block ends.

    The bus and the ledger belong to the caller, who opened them (`open_app` opens them in the
    same stack). `adapters` (the drill's
    sandbox, a test's overrides), `parsers` and `audiences` (the replay's stand-ins) replace the
    parts made from the settings; an `adapters` pool handed in is closed here like our own.
    """
    async with AsyncExitStack() as stack:
        pool = adapters if adapters is not None else AdapterPool(settings)
        stack.push_async_callback(pool.close)
        renderer = Renderer(settings.templates_dir)
        stack.callback(renderer.lane.close)
        # A client of the shared job store until the scheduler stage (if this process runs it)
        # starts it; its engine is disposed when we close.
        scheduler = SchedulerService(ledger.db)
        stack.push_async_callback(scheduler.stop)
        circulars = Circulars(settings, ledger, bus, pool, scheduler)
        conversation = line_conversation(settings, ledger)
        stack.push_async_callback(conversation.close)
        channels = settings.enabled_channels()
        yield Runtime(
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
            renderer=renderer,
            adapters=pool,
            parsers=list(parsers) if parsers is not None else load_parsers(),
            audiences=audiences if audiences is not None else Audiences(ledger.db),
            scheduler=scheduler,
            circulars=circulars,
            channel_pools={"circular": circular_pool(pool, circulars)},
            conversation=conversation,
        )


@dataclass(frozen=True)
class Process:
    """A running process: its stages, its web server and the port it got (None without one)."""

    runtime: Runtime
    pipeline: Pipeline
    web: WebServer | None
    web_port: int | None


@asynccontextmanager
async def serving(rt: Runtime, stages: Sequence[str], *, metrics_port: int | None = None) -> AsyncIterator[Process]:
    """Run `stages` over `rt` (``web`` serves the whole site on the configured address), and a
    port of its own with only health and /metrics when `metrics_port` is given (a stage worker).
    Stopped when the block ends: the web servers first, then the stages."""
    async with AsyncExitStack() as stack:
        pipeline = Pipeline(rt, list(stages))
        stack.push_async_callback(pipeline.stop)
        await pipeline.start()
        web: WebServer | None = None
        web_port: int | None = None
        if "web" in stages:
            web = WebServer(build_app(WebContext.build(rt)), rt.settings.web.host, rt.settings.web.port)
            stack.push_async_callback(web.stop)
            web_port = await web.start()
            pipeline.start_metrics()
        if metrics_port is not None:
            health = WebServer(
                build_app(WebContext.build(rt), only_health=True), metrics_host(rt.settings.web), metrics_port
            )
            stack.push_async_callback(health.stop)
            await health.start()
            pipeline.start_metrics()
        yield Process(rt, pipeline, web, web_port)
