"""`broadcaster db upgrade`: create or migrate the ledger."""

from __future__ import annotations

import click

from broadcaster.cli.context import bus_db_overrides, run, settings


@click.group("db")
def db_group() -> None:
    """The ledger database."""


@db_group.command("upgrade")
@click.option("--db", "url", help="Database URL.")
@click.pass_context
def db_upgrade(ctx: click.Context, url: str | None) -> None:
    """Create or migrate the ledger's tables to this version."""
    loaded = settings(ctx, **bus_db_overrides(None, url))

    async def go() -> str | None:
        from broadcaster.store import migrate
        from broadcaster.store.personal import open_ledger

        loaded.var_dir.mkdir(parents=True, exist_ok=True)
        # The one command that opens a ledger behind this version's revision: it is the one that
        # brings it forward. A migration needs no data key; with one, anything it writes is sealed.
        ledger = open_ledger(loaded, required=False)
        try:
            await migrate.upgrade(ledger.db)
            await ledger.ensure_tenants((t.id, t.name) for t in loaded.tenants.values())
            return await migrate.current_revision(ledger.db)
        finally:
            await ledger.close()

    click.echo(f"database at revision {run(go())}")


COMMANDS = (db_group,)
