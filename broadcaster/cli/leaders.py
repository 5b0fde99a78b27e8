"""`broadcaster leaders link-code`: a one-time code that links a district leader's LINE account.

docs/channels.md ("LINE webhook") says how a district leader links their LINE account with a code.
"""

from __future__ import annotations

import getpass
from typing import Any

import click

from broadcaster.cli.context import require_tenant, settings, with_ledger
from broadcaster.model import JST
from broadcaster.store.ledger import Ledger


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
    from broadcaster.line_links import issue_link_code

    loaded = settings(ctx)
    require_tenant(loaded, tenant)
    by = f"cli:{officer or getpass.getuser()}"

    async def work(ledger: Ledger) -> Any:
        try:
            return await issue_link_code(loaded, ledger, tenant, leader, by=by, minutes=minutes, origin="cli")
        except ValueError as e:
            raise click.ClickException(str(e)) from e

    issued = with_ledger(loaded, work, tenants=True)
    if issued is None:
        raise click.ClickException(f"{tenant} has no active leader or deputy {leader!r} (see `broadcaster audiences export`)")
    until = issued.expires.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    click.echo(f"{issued.display}")
    click.echo(
        f"  for {leader} ({issued.kind}) of {loaded.tenants[tenant].name}, valid until {until} JST, once.\n"
        f"  The leader follows the town's LINE account and sends these eight digits as a message."
    )


COMMANDS = (leaders_group,)
