"""The `broadcaster jalert-bridge` command (registered under the `broadcaster.commands` entry point)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from broadcaster.errors import BroadcasterError


async def _serve(settings_path: Path | None) -> None:
    from adapters.ingest.jalert.bridge import Bridge, load_bridge_settings

    bridge = Bridge(load_bridge_settings(settings_path))
    await bridge.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stopper = asyncio.ensure_future(stop.wait())
    running = asyncio.ensure_future(bridge.wait())
    try:
        done, _ = await asyncio.wait({stopper, running}, return_when=asyncio.FIRST_COMPLETED)
        if running in done:
            running.result()
    finally:
        stopper.cancel()
        running.cancel()
        await bridge.stop()


@click.command("jalert-bridge")
@click.option(
    "--settings",
    "settings_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="BROADCASTER_JALERT_BRIDGE_CONFIG",
    help="The bridge's TOML settings (also BROADCASTER_JALERT_BRIDGE_CONFIG); see docs/jalert.md.",
)
@click.pass_context
def jalert_bridge(ctx: click.Context, settings_path: Path | None) -> None:
    """Run on the J-Alert receiver's side (LGWAN): forward its messages, signed and spooled."""
    from broadcaster.logging import configure

    configure((ctx.obj or {}).get("log_level") or "INFO", "console")
    try:
        asyncio.run(_serve(settings_path))
    except BroadcasterError as e:
        raise click.ClickException(str(e)) from e
