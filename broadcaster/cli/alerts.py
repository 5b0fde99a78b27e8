"""`broadcaster send|approve|republish|status|parse`: an officer's work on alerts from a shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from broadcaster.cli.context import bus_db_overrides, run, settings, stores_of
from broadcaster.logging import configure


@click.command("send")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--officer", help="Officer identity for a manual alert (required for JSON).")
@click.option("--tenant", help="Tenant the officer sends for (required for JSON).")
@click.option("--source", default=None, help="Source name for a raw telegram (default: by content).")
@click.option("--bus", help="Bus URL.")
@click.option("--from-tenant", help="The officer's own municipality, sending on --tenant's behalf (a delegate of it).")
@click.pass_context
def send(ctx: click.Context, file: Path, officer: str | None, tenant: str | None, source: str | None, bus: str | None, from_tenant: str | None) -> None:
    """Put FILE on the pipeline: a raw telegram (XML), or a manual alert (JSON) under an officer."""
    from broadcaster.pipeline.ingest import submit
    from broadcaster.pipeline.tenancy import delegation_for
    from broadcaster.sources import raw_from_file

    loaded = settings(ctx, **bus_db_overrides(bus, None))
    delegation = delegation_for(loaded.tenants, tenant, officer, from_tenant)
    who = delegation.officer if delegation else officer
    raw = raw_from_file(file, officer=who, tenant=tenant, source=source, known_tenants=loaded.tenants)

    async def go() -> None:
        async with stores_of(loaded) as (b, ledger):
            await submit(b, raw, ledger)
            if delegation is not None:
                await ledger.audit(**delegation.audit_entry("delegated_send", raw.id, "cli"))

    run(go())
    click.echo(f"accepted {file.name} as raw event {raw.id} (source {raw.source}, by {raw.submitted_by})")


@click.command("approve")
@click.argument("alert_id")
@click.option("--tenant", required=True)
@click.option("--officer", required=True, help="The approving officer's account (not the author).")
@click.option("--from-tenant", help="The officer's own municipality, approving on --tenant's behalf.")
@click.option("--code", help="The officer's current second-factor code (asked for when not given).")
@click.pass_context
def approve(ctx: click.Context, alert_id: str, tenant: str, officer: str, from_tenant: str | None, code: str | None) -> None:
    """Approve a held alert (two-person rule): it goes to every channel at once.

    The approver is an officer account with the approver role in the tenant, proven by its
    second-factor code; never the author (docs/approval.md).
    """
    from broadcaster.pipeline.approval import ApprovalError, check_approver, second_factor_ok
    from broadcaster.pipeline.approval import approve as do_approve
    from broadcaster.pipeline.tenancy import delegation_for
    from broadcaster.pipeline.two_person import tenant_cancel_texts

    loaded = settings(ctx)
    delegation = delegation_for(loaded.tenants, tenant, officer, from_tenant)
    who = delegation.officer if delegation else f"officer:{tenant}/{officer}"
    given = code if code is not None else click.prompt("Second-factor code", hide_input=True)

    async def go() -> int:
        async with stores_of(loaded) as (bus, ledger):
            await check_approver(ledger.db, tenant, who)
            if not await second_factor_ok(ledger.db, officer.rpartition("/")[2], given):
                await ledger.audit(actor=who, action="approve_refused", tenant=tenant, target=alert_id, origin="cli", detail={"why": "second factor"})
                raise ApprovalError(f"the second-factor code of {officer} is wrong or was used already")
            texts = tenant_cancel_texts(loaded.templates_dir, tenant)
            n = await do_approve(bus, ledger, tenant, alert_id, who, cancel_texts=texts)
            if delegation is not None:
                await ledger.audit(**delegation.audit_entry("delegated_approve", alert_id, "cli"))
            return n

    click.echo(f"approved: {run(go())} dispatches released")


@click.command("republish")
@click.argument("alert_id")
@click.option("--tenant", required=True)
@click.option("--officer", required=True, help="Who asks (recorded in the audit log).")
@click.option("--channel", help="Only this channel.")
@click.option("--dispatch", "key", help="Only this dispatch (its idempotency key, from `status --json`).")
@click.pass_context
def republish(ctx: click.Context, alert_id: str, tenant: str, officer: str, channel: str | None, key: str | None) -> None:
    """Send an alert's dead or failed dispatches again (after a provider recovered)."""
    from broadcaster.pipeline.republish import republish as do_republish

    loaded = settings(ctx)

    async def go() -> int:
        async with stores_of(loaded) as (bus, ledger):
            return await do_republish(
                bus, ledger, tenant, alert_id, actor=f"officer:{tenant}/{officer}", channel=channel, key=key
            )

    n = run(go())
    click.echo(f"republished {n} dispatch(es)" if n else "nothing to republish: no dead or failed dispatch matches")


@click.command("status")
@click.argument("alert_id", required=False)
@click.option("--tenant")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, alert_id: str | None, tenant: str | None, as_json: bool) -> None:
    """Per-channel delivery table (sent, accepted, failed, latency) and the quarantine."""
    from broadcaster.status import collect_status, render_status

    loaded = settings(ctx)

    async def go() -> dict[str, Any]:
        async with stores_of(loaded) as (bus, ledger):
            return await collect_status(loaded, bus, ledger, alert_id=alert_id, tenant=tenant)

    data = run(go())
    click.echo(json.dumps(data, ensure_ascii=False, indent=1, default=str) if as_json else render_status(data))


@click.command("parse")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def parse(files: tuple[Path, ...]) -> None:
    """Print each file's normalized Alerts as JSON lines with CAP field names (or why not)."""
    from broadcaster.pipeline.normalize import Refused
    from broadcaster.pipeline.normalize import parse as do_parse
    from broadcaster.pipeline.runtime import load_parsers
    from broadcaster.sources import raw_from_file

    configure("WARNING")
    parsers = load_parsers()
    failed = 0
    for path in files:
        raw = raw_from_file(path, officer="officer:cli/parse", tenant="-", source=None, known_tenants=None)
        result = do_parse(raw, parsers)
        if isinstance(result, Refused):
            failed += 1
            click.echo(json.dumps({"file": str(path), "refused": result.reason, "detail": result.detail}, ensure_ascii=False))
            continue
        for alert in result:
            click.echo(alert.model_dump_json(by_alias=True, exclude_none=True))
    if failed:
        sys.exit(1)


COMMANDS = (send, approve, republish, status, parse)
