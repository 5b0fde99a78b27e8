"""`broadcaster stats fetch|show`: providers' delivery statistics per alert (broadcaster/delivery_stats.py)."""

from __future__ import annotations

from typing import Any

import click

from broadcaster.cli.context import settings as _settings
from broadcaster.cli.context import with_ledger as _with_ledger


@click.group()
def stats() -> None:
    """Delivery statistics the providers report after a send (LINE insight, accepted counts)."""


@stats.command("fetch")
@click.option("--tenant", required=True)
@click.option("--alert", "alert_id", required=True)
@click.pass_context
def fetch_command(ctx: click.Context, tenant: str, alert_id: str) -> None:
    """Ask the providers about one alert's sends and keep the figures in the ledger."""
    from broadcaster import delivery_stats

    settings = _settings(ctx)

    async def work(ledger: Any) -> list[dict[str, Any]]:
        await delivery_stats.fetch(settings, ledger, tenant, alert_id)
        return await delivery_stats.read(ledger, tenant, alert_id)

    rows = _with_ledger(settings, work)
    click.echo("\n".join([f"{tenant}  {alert_id}", *delivery_stats.render(rows)]))


@stats.command("show")
@click.option("--tenant", required=True)
@click.option("--alert", "alert_id", required=True)
@click.pass_context
def show_command(ctx: click.Context, tenant: str, alert_id: str) -> None:
    """Print the figures last fetched for one alert."""
    from broadcaster import delivery_stats

    settings = _settings(ctx)
    rows = _with_ledger(settings, lambda ledger: delivery_stats.read(ledger, tenant, alert_id))
    if not rows:
        click.echo("no statistics fetched for this alert yet (`broadcaster stats fetch`)")
        return
    click.echo("\n".join([f"{tenant}  {alert_id}", *delivery_stats.render(rows)]))


COMMANDS = (stats,)
