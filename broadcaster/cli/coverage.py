"""`broadcaster coverage ALERT_ID`: households reached per district for one alert (docs/coverage.md)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from broadcaster.cli.context import require_tenant, with_ledger
from broadcaster.cli.context import settings as _settings


@click.command("coverage")
@click.argument("alert_id")
@click.option("--tenant", default=None, help="The municipality (needed only when two share the alert id).")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the table as CSV for the disaster headquarters ('-': standard output).",
)
@click.option(
    "--unreached",
    is_flag=True,
    help="With --csv: the households not reached, with members and address (personal data; audited).",
)
@click.pass_context
def coverage(
    ctx: click.Context, alert_id: str, tenant: str | None, csv_path: Path | None, unreached: bool
) -> None:
    """Per district: households, how many were reached and by which medium, and which districts
    are flagged as under-reached."""
    from broadcaster.coverage.counts import compute
    from broadcaster.coverage.report import render, to_csv
    from broadcaster.store import tables as t

    if unreached and csv_path is None:
        raise click.UsageError("--unreached writes a CSV: give --csv FILE")
    loaded = _settings(ctx)
    if tenant is not None:
        require_tenant(loaded, tenant)

    async def work(ledger: Any) -> Any:
        a = t.alerts
        query = sa.select(a.c.tenant).where(a.c.identifier == alert_id)
        if tenant is not None:
            query = query.where(a.c.tenant == tenant)
        owners = await ledger.db.read(lambda c: sorted(set(c.execute(query).scalars())))
        if not owners:
            raise click.ClickException(f"no alert {alert_id!r}" + (f" for {tenant}" if tenant else ""))
        if len(owners) > 1:
            raise click.ClickException(
                f"alert {alert_id!r} was received by {', '.join(owners)}: give --tenant"
            )
        town = loaded.tenants.get(owners[0])
        districts = {d.id: d.name for d in town.districts} if town is not None else {}
        cov = await compute(ledger.db, owners[0], alert_id, districts, loaded.coverage, addresses=unreached)
        if unreached:
            await ledger.audit(
                actor=f"cli:{getpass.getuser()}", action="coverage_unreached_export", tenant=owners[0],
                target=alert_id, origin="cli",
                detail={"households": sum(len(r.unreached) for r in cov.districts) if cov else 0},
            )  # fmt: skip
        return cov

    cov = with_ledger(loaded, work)
    if cov is None:
        raise click.ClickException(f"no alert {alert_id!r}")
    if csv_path is None:
        click.echo("\n".join(render(cov)))
        return
    text = to_csv(cov, unreached=unreached)
    if str(csv_path) == "-":
        click.echo(text, nl=False)
    else:
        csv_path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {csv_path}", err=True)


@click.group("support")
def support_group() -> None:
    """The town's list of people who need help to evacuate, as district leaders see it (docs/support.md)."""


@support_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", required=True)
@click.pass_context
def support_import(ctx: click.Context, path: Path, tenant: str) -> None:
    """Replace the tenant's list with a CSV (id, district, name, address, needs, contact, consent)."""
    from broadcaster.coverage import support
    from broadcaster.store.audience_csv import decode, district_lookup

    loaded = _settings(ctx)
    require_tenant(loaded, tenant)
    districts = district_lookup((d.id, d.name) for d in loaded.tenants[tenant].districts)
    entries, problems = support.read_csv(decode(path.read_bytes()), districts)
    if problems:
        raise click.ClickException("nothing imported:\n" + "\n".join(f"{path.name}: {p}" for p in problems))

    async def work(ledger: Any) -> int:
        n = await support.replace_list(ledger.db, tenant, entries)
        await ledger.audit(actor=f"cli:{getpass.getuser()}", action="support_list_imported", tenant=tenant, origin="cli",
                           detail={"people": n, "consented": sum(1 for e in entries if e.consent)})  # fmt: skip
        return n

    n = with_ledger(loaded, work, tenants=True)
    click.echo(f"{tenant}: {n} people on the support list ({sum(1 for e in entries if e.consent)} consented to sharing in normal times)")


COMMANDS = (coverage, support_group)
