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


COMMANDS = (coverage,)
