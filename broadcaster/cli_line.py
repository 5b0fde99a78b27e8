"""`broadcaster line richmenu` and `broadcaster leaders link-code`: the LINE webhook's two commands.

docs/channels.md ("LINE webhook") says how a town sets its account up and how a district leader
links their LINE account with a code.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path
from typing import Any

import click

from broadcaster.cli_audiences import _settings, _tenant, _with_store
from broadcaster.errors import BroadcasterError
from broadcaster.model import JST


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

    settings = _settings(ctx)
    _tenant(settings, tenant)
    site_url = f"{settings.web.public_url.rstrip('/')}/site/{tenant}/"
    if dry_run:
        click.echo(json.dumps(definition(tenant, site_url=site_url), ensure_ascii=False, indent=2))
        return
    cfg = settings.channel(tenant, "line")
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
    click.echo(f"rich menu {done.rich_menu_id} is now the default of {settings.tenants[tenant].name}'s LINE account")
    if done.replaced:
        click.echo(f"  the earlier one ({done.replaced}) was deleted")
    if done.kept:
        click.echo(f"  the earlier default ({done.kept}) was not made here and was left alone")
    if image is None:
        click.echo("  picture: pictograms only (house, globe, bell, page); --image gives the town's own")


@click.group("leaders")
def leaders_group() -> None:
    """District leaders (区長, 町内会長) and their deputies."""


@leaders_group.command("link-code")
@click.option("--tenant", required=True)
@click.option("--leader", required=True, help="The leader's or deputy's external_id in the roster.")
@click.option(
    "--minutes", default=60, show_default=True, type=click.IntRange(5, 72 * 60), help="How long the code works."
)
@click.option("--officer", default=None, help="Who asks (recorded in the audit log; default: your login).")
@click.pass_context
def link_code(ctx: click.Context, tenant: str, leader: str, minutes: int, officer: str | None) -> None:
    """A one-time code that links the leader's LINE account to their record. Earlier codes of the
    same leader stop working."""
    from broadcaster.web.line_hook import issue_link_code

    settings = _settings(ctx)
    _tenant(settings, tenant)
    by = f"cli:{officer or getpass.getuser()}"

    async def work(ledger: Any) -> Any:
        try:
            return await issue_link_code(settings, ledger, tenant, leader, by=by, minutes=minutes, origin="cli")
        except ValueError as e:
            raise click.ClickException(str(e)) from e

    issued = _with_store(settings, work)
    if issued is None:
        raise click.ClickException(f"{tenant} has no active leader or deputy {leader!r} (see `broadcaster audiences export`)")
    until = issued.expires.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    click.echo(f"{issued.display}")
    click.echo(
        f"  for {leader} ({issued.kind}) of {settings.tenants[tenant].name}, valid until {until} JST, once.\n"
        f"  The leader follows the town's LINE account and sends these eight digits as a message."
    )
