"""`broadcaster run` and `broadcaster worker STAGE`: the pipeline, in one process or stage by stage."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable

import click

from broadcaster.cli.context import bus_db_overrides, run, settings
from broadcaster.settings import Settings


async def _until_signal(wait: Awaitable[None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stopper = asyncio.ensure_future(stop.wait())
    waiter = asyncio.ensure_future(wait)
    done, _ = await asyncio.wait({stopper, waiter}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if waiter in done:
        waiter.result()


async def _serve_pipeline(settings: Settings, stages: list[str] | None, *, metrics_port: int | None = None) -> None:
    from broadcaster.app import open_app, serving
    from broadcaster.pipeline.runtime import stage_names

    async with (
        # The stores and the services in one stack: the ledger and the bus close last.
        open_app(settings) as runtime,
        serving(runtime, stages or stage_names(settings, web=True), metrics_port=metrics_port) as process,
    ):
        click.echo(
            f"broadcaster running: bus {settings.bus.url}, {len(process.pipeline.stages)} stages. Ctrl-C stops.", err=True
        )
        await _until_signal(process.pipeline.wait())


@click.command("run")
@click.option("--bus", help="Bus URL: embedded:PATH or kafka://host:port.")
@click.option("--db", help="Database URL (sqlite+aiosqlite:///PATH or postgresql+asyncpg://...).")
@click.option("--stage", "stages", multiple=True, help="Run only these stages (default: all).")
@click.pass_context
def run_command(ctx: click.Context, bus: str | None, db: str | None, stages: tuple[str, ...]) -> None:
    """Run the pipeline (every stage in this process) until SIGINT or SIGTERM."""
    run(_serve_pipeline(settings(ctx, **bus_db_overrides(bus, db)), list(stages) or None))


@click.command("worker")
@click.argument("stage")
@click.option("--bus", help="Bus URL (kafka://host:port for scale-out).")
@click.option("--db", help="Database URL.")
@click.option("--metrics-port", type=int, default=None, help="Serve /metrics, /healthz and /readyz on this port.")
@click.pass_context
def worker(ctx: click.Context, stage: str, bus: str | None, db: str | None, metrics_port: int | None) -> None:
    """Run one stage: normalize, route, channel:NAME, ledger, redrive, scheduler or ingest:NAME (scale out by adding more)."""
    run(_serve_pipeline(settings(ctx, **bus_db_overrides(bus, db)), [stage], metrics_port=metrics_port))


COMMANDS = (run_command, worker)
