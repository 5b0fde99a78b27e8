"""`broadcaster rules simulate|list|status`: what the rules decide, in what order, and which set runs."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from broadcaster.cli.context import ledger_of, require_tenant, settings, sqlite_ledger_exists
from broadcaster.errors import BroadcasterError, ConfigError
from broadcaster.settings import Settings


@click.group("rules")
def rules() -> None:
    """The rules: who gets what, on which channel, and why (docs/rules.md)."""


def _routing_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    from broadcaster.model import JST

    try:
        at = datetime.fromisoformat(value)
    except ValueError as e:
        raise click.BadParameter(f"{value!r}: use ISO 8601, e.g. 2025-07-01T02:40 (JST) or with an offset") from e
    return at if at.tzinfo is not None else at.replace(tzinfo=JST)


async def _counts(loaded: Settings, tenants: list[str]) -> dict[str, Any]:
    """Count snapshots per tenant, or {} when the ledger is not migrated or cannot be read."""
    from broadcaster.store.audiences import Audiences

    try:
        async with ledger_of(loaded, key_required=False) as ledger:  # counts only: nothing personal
            store = Audiences(ledger.db)
            return {t: await store.counts(t) for t in tenants}
    except Exception:  # a simulation is still useful without counts; it says they are unknown
        return {}


@rules.command("simulate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", help="Only this tenant (required for a manual alert in JSON, or an L-Alert file).")
@click.option("--at", "at_text", help="Pretend the alert arrives at this time (ISO 8601; JST if no offset).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def simulate(ctx: click.Context, files: tuple[Path, ...], tenant: str | None, at_text: str | None, as_json: bool) -> None:
    """For each telegram or alert in FILES, the decision table per tenant; nothing is sent."""
    from broadcaster.pipeline.adapters import profile_of
    from broadcaster.pipeline.normalize import Refused, assign_tenants
    from broadcaster.pipeline.normalize import parse as do_parse
    from broadcaster.pipeline.runtime import load_parsers
    from broadcaster.pipeline.tenancy import TenantDirectory
    from broadcaster.rules.engine import load_tenant_rules
    from broadcaster.rules.simulate import Table, render
    from broadcaster.rules.simulate import simulate as run_simulation
    from broadcaster.sources import raw_from_file

    loaded = settings(ctx)
    if tenant is not None:
        require_tenant(loaded, tenant)
    at = _routing_time(at_text)
    try:
        directory = TenantDirectory.from_settings(loaded)
        rule_sets = {
            t.id: load_tenant_rules(loaded.rules_dir, t.id, list(loaded.channels), [d.id for d in t.districts])
            for t in loaded.tenants.values()
            if tenant in (None, t.id)
        }
        profiles = {c: profile_of(loaded, c) for c in loaded.enabled_channels()}
        parsers = load_parsers()
    except BroadcasterError as e:
        raise click.ClickException(str(e)) from e
    # Simulating must not create an empty SQLite ledger as a side effect.
    counts = asyncio.run(_counts(loaded, list(rule_sets))) if sqlite_ledger_exists(loaded) else {}
    tables: list[tuple[Path, Table]] = []
    failed = 0
    for path in files:
        try:
            raw = raw_from_file(path, officer="simulate", tenant=tenant, source=None, known_tenants=loaded.tenants)
        except ConfigError as e:
            click.echo(f"{path}: {e}", err=True)
            failed += 1
            continue
        parsed = do_parse(raw, parsers)
        if isinstance(parsed, Refused):
            click.echo(f"{path}: refused ({parsed.reason}): {parsed.detail[:300]}", err=True)
            failed += 1
            continue
        assigned = assign_tenants(parsed, raw, directory)
        if (isinstance(assigned, Refused) or not assigned) and tenant is not None:
            assigned = assign_tenants(parsed, raw.model_copy(update={"tenant": tenant}), directory)
        if isinstance(assigned, Refused):
            click.echo(f"{path}: {assigned.reason}: {assigned.detail}", err=True)
            failed += 1
            continue
        if not assigned:
            click.echo(f"{path}: no tenant's areas are named in it (give --tenant to try one)", err=True)
        for alert in assigned:
            if alert.tenant not in rule_sets:
                continue
            ctx_ = directory.context(alert.tenant, alert)
            if at is not None:
                ctx_ = replace(ctx_, at=at)
            tables.append(
                (path, run_simulation(alert, rule_sets[alert.tenant], ctx_, profiles, counts.get(alert.tenant)))
            )
    if as_json:
        for path, table in tables:
            click.echo(json.dumps({"file": str(path), **table.as_dict()}, ensure_ascii=False))
    else:
        names = {id(t): p.name for p, t in tables}
        click.echo(render([t for _, t in tables], lambda t: names[id(t)]))
    if failed:
        raise SystemExit(1)


@rules.command("list")
@click.option("--tenant", required=True)
@click.pass_context
def list_(ctx: click.Context, tenant: str) -> None:
    """The tenant's rules in precedence order, with where each is written."""
    from broadcaster.rules.engine import load_tenant_rules

    loaded = settings(ctx)
    require_tenant(loaded, tenant)
    try:
        rule_set = load_tenant_rules(
            loaded.rules_dir, tenant, list(loaded.channels), [d.id for d in loaded.tenants[tenant].districts]
        )
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"rules of {tenant} (version {rule_set.digest[:8]}), first match wins:")
    ordered = [r for r in rule_set.rules if not r.default] + [r for r in rule_set.rules if r.default]
    for n, r in enumerate(ordered, 1):
        flags = " [continue]" if r.continue_ else (" [default]" if r.default else "")
        click.echo(f"{n:>3}. {r.name}{flags}  ({r.where})")
        click.echo(f"       -> {', '.join(r.channels)} to {', '.join(r.audiences)}"
                   f"{' topic ' + r.topic if r.topic else ''}, {r.priority.value}"
                   f"{', approval' if r.require_approval else ''}")


@rules.command("status")
@click.pass_context
def status(ctx: click.Context) -> None:
    """Which rule set each tenant's router runs, and the last edit it refused (hot reload)."""
    from broadcaster.store import routing

    loaded = settings(ctx)

    async def go() -> list[dict[str, Any]]:
        async with ledger_of(loaded, key_required=False) as ledger:  # nothing personal is read
            return await routing.rules_status(ledger.db)

    try:
        rows = asyncio.run(go())
    except Exception as e:
        raise click.ClickException(f"cannot read the ledger ({e}); run `broadcaster db upgrade` first") from e
    if not rows:
        click.echo("no router has reported yet (start `broadcaster run`)")
        return
    for r in rows:
        click.echo(f"{r['tenant']}: rules {r['digest'][:8]} ({r['rules']} rules) active since {r['active_since']:%Y-%m-%d %H:%M:%S}")
        if r["error"]:
            click.echo(f"  REFUSED edit at {r['error_at']:%Y-%m-%d %H:%M:%S} (the set above stays active):")
            for line in str(r["error"]).splitlines()[:10]:
                click.echo(f"    {line}")


COMMANDS = (rules,)
