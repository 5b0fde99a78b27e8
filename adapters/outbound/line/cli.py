"""`broadcaster line richmenu`: the town's LINE rich menu (registered under the
`broadcaster.commands` entry point).

docs/channels.md ("LINE webhook") says how a town sets its account up.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from broadcaster.cli.context import require_tenant, settings
from broadcaster.errors import BroadcasterError


@click.group("line")
def line_group() -> None:
    """The town's LINE official account (its webhook is /hooks/line/<tenant>)."""


@line_group.command("richmenu")
@click.option("--tenant", required=True)
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The town's own picture: 2500 × 843, PNG or JPEG, at most 1 MB (default: pictograms).",
)
@click.option("--dry-run", is_flag=True, help="Print the rich menu object; change nothing at LINE.")
@click.pass_context
def richmenu(ctx: click.Context, tenant: str, image: Path | None, dry_run: bool) -> None:
    """Create the rich menu (districts, language, topics, the town's site) and make it the default
    for every follower; the menu it replaces is deleted if this command made it."""
    from adapters.outbound.line.api import LINE_API, LineClient
    from adapters.outbound.line.richmenu import definition, install

    loaded = settings(ctx)
    require_tenant(loaded, tenant)
    site_url = f"{loaded.web.public_url.rstrip('/')}/site/{tenant}/"
    if dry_run:
        click.echo(json.dumps(definition(tenant, site_url=site_url), ensure_ascii=False, indent=2))
        return
    cfg = loaded.channel(tenant, "line")
    token = cfg.credentials.get("token")
    if token is None or not token.get_secret_value():
        raise click.ClickException(
            f"tenant {tenant} has no LINE channel access token "
            f"([tenants.{tenant}.channels.line] credentials.token)"
        )
    picture = image.read_bytes() if image is not None else None

    async def go() -> Any:
        client = LineClient(token=token.get_secret_value(), base_url=str(cfg.options.get("base_url") or LINE_API))
        try:
            return await install(client, tenant, site_url=site_url, image=picture)
        finally:
            await client.close()

    try:
        done = asyncio.run(go())
    except (BroadcasterError, ValueError) as e:
        raise click.ClickException(f"the rich menu was not installed: {e}") from e
    click.echo(f"rich menu {done.rich_menu_id} is now the default of {loaded.tenants[tenant].name}'s LINE account")
    if done.replaced:
        click.echo(f"  the earlier one ({done.replaced}) was deleted")
    if done.kept:
        click.echo(f"  the earlier default ({done.kept}) was not made here and was left alone")
    if image is None:
        click.echo("  picture: pictograms only (house, globe, bell, page); --image gives the town's own")
