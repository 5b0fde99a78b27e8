"""`broadcaster audiences import|export|leave|counts|recount`: a tenant's people, as CSV.

The CSV format is in docs/audiences.md. Exports hold personal information (the Act on the
Protection of Personal Information applies): the command says so, and nothing personal is ever
logged (identifiers are hashed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from broadcaster.cli.context import require_tenant, settings, with_ledger
from broadcaster.store.ledger import Ledger


@click.group("audiences")
def audiences() -> None:
    """A municipality's residents, district leaders and officers (CSV import and export)."""


@audiences.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", required=True)
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change; change nothing.")
@click.pass_context
def import_(ctx: click.Context, file: Path, tenant: str, dry_run: bool) -> None:
    """Create or update people from FILE by external_id (importing twice changes nothing)."""
    from broadcaster.store.audience_csv import decode, district_lookup, read_people
    from broadcaster.store.audiences import Audiences

    loaded = settings(ctx)
    require_tenant(loaded, tenant)
    districts = district_lookup((d.id, d.name) for d in loaded.tenants[tenant].districts)
    try:
        text = decode(file.read_bytes())
    except (OSError, UnicodeDecodeError) as e:
        raise click.ClickException(f"{file}: cannot read it as UTF-8 or Shift_JIS text: {e}") from e
    people, problems = read_people(text, districts)
    if problems:
        for p in problems[:50]:
            click.echo(p.where(str(file)), err=True)
        more = " (first 50 shown)" if len(problems) > 50 else ""
        raise click.ClickException(f"{len(problems)} problem(s) in {file}{more}; nothing was imported")
    if dry_run:
        click.echo(f"{file}: {len(people)} people, no problems (dry run: nothing imported)")
        return

    async def work(ledger: Ledger) -> Any:
        return await Audiences(ledger.db).import_people(tenant, people)

    report = with_ledger(loaded, work, tenants=True)
    click.echo(
        f"{tenant}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.left} left"
    )
    if report.skipped_left:
        click.echo(
            f"{len(report.skipped_left)} listed again after they left, not signed up again "
            f"(they opt in themselves): {', '.join(report.skipped_left[:10])}",
            err=True,
        )


@audiences.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tenant", required=True)
@click.pass_context
def export(ctx: click.Context, file: Path, tenant: str) -> None:
    """Write the tenant's people to FILE ('-' for standard output), in the import format."""
    from broadcaster.store.audience_csv import write_people
    from broadcaster.store.audiences import Audiences

    loaded = settings(ctx)
    require_tenant(loaded, tenant)

    async def work(ledger: Ledger) -> Any:
        return await Audiences(ledger.db).people(tenant)

    people = with_ledger(loaded, work, tenants=True)
    text = write_people(people)
    if str(file) == "-":
        sys.stdout.write(text.removeprefix("\ufeff"))
    else:
        file.write_text(text, encoding="utf-8", newline="")
    doubled = sum(1 for p in people if len({c for c, _ in p.endpoints}) < len(p.endpoints))
    if doubled:
        click.echo(f"{doubled} people have two addresses on one channel; the CSV holds the first", err=True)
    click.echo(
        f"{len(people)} people of {tenant} written to {file}. The file holds personal information: "
        "keep it where only staff can read it, and delete it when done.",
        err=True,
    )


@audiences.command("leave")
@click.argument("external_id")
@click.option("--tenant", required=True)
@click.pass_context
def leave(ctx: click.Context, external_id: str, tenant: str) -> None:
    """The person opts out: their addresses and personal data are deleted now."""
    from broadcaster.store.audiences import Audiences

    loaded = settings(ctx)
    require_tenant(loaded, tenant)

    async def work(ledger: Ledger) -> bool:
        done = await Audiences(ledger.db).leave(tenant, external_id)
        if done:
            from broadcaster.logging import hash_id

            await ledger.audit(actor="cli", action="subscriber_left", tenant=tenant, target=hash_id(f"{tenant}/{external_id}"))
        return done

    if not with_ledger(loaded, work, tenants=True):
        raise click.ClickException(f"no registered person {external_id!r} in {tenant} (or they already left)")
    click.echo(f"{external_id} left {tenant}: addresses and personal data deleted")


@audiences.command("counts")
@click.option("--tenant", required=True)
@click.pass_context
def counts(ctx: click.Context, tenant: str) -> None:
    """How many addresses each audience has on each channel (what routing counts on)."""
    from broadcaster.store.audiences import Audiences

    loaded = settings(ctx)
    require_tenant(loaded, tenant)

    async def work(ledger: Ledger) -> Any:
        return await Audiences(ledger.db).counts(tenant)

    snapshot = with_ledger(loaded, work, tenants=True)
    rows = sorted(snapshot.n.items())
    if not rows:
        click.echo(f"{tenant}: nobody registered")
        return
    click.echo(f"{'role':<10}{'district/group':<16}{'topic':<10}{'channel':<11}{'addresses':>10}")
    for (role, scope, topic, channel), n in rows:
        click.echo(f"{role:<10}{scope:<16}{topic:<10}{channel:<11}{n:>10,}")


@audiences.command("recount")
@click.option("--tenant", required=True)
@click.pass_context
def recount(ctx: click.Context, tenant: str) -> None:
    """Rebuild the tenant's audience counts from the people (a repair; never needed normally)."""
    from broadcaster.store.audiences import Audiences

    loaded = settings(ctx)
    require_tenant(loaded, tenant)

    async def work(ledger: Ledger) -> None:
        await Audiences(ledger.db).recount(tenant)

    with_ledger(loaded, work, tenants=True)
    click.echo(f"{tenant}: counts rebuilt")


COMMANDS = (audiences,)
