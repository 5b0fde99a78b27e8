"""`broadcaster privacy keygen|status|rekey` and `broadcaster retention run` (docs/privacy.md)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from broadcaster.cli.context import settings, with_ledger
from broadcaster.errors import BroadcasterError


@click.group("privacy")
def privacy() -> None:
    """The data key that seals personal data in the ledger."""


@privacy.command("keygen")
def privacy_keygen() -> None:
    """Print a new data key (for BROADCASTER_PRIVACY__KEY or privacy.key_file)."""
    from broadcaster.privacy import new_key

    click.echo(new_key())


@privacy.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a table.")
@click.pass_context
def privacy_status(ctx: click.Context, as_json: bool) -> None:
    """Per column: values in clear and values sealed under each key; exit 1 if any is not current."""
    from broadcaster.store.personal import key_status

    loaded = settings(ctx)
    report = with_ledger(loaded, lambda ledger: key_status(ledger.db))
    cipher = loaded.privacy.cipher()
    current = cipher.key_id if cipher else None
    stale = sum(n for counts in report.columns.values() for kid, n in counts.items() if kid != current)
    if as_json:
        click.echo(json.dumps({"key": current, "columns": {k: dict(v) for k, v in report.columns.items()}, "not_current": stale}))
    else:
        click.echo(f"current key: {current or 'none'}")
        for column, counts in report.columns.items():
            parts = ", ".join(f"{kid}: {n}" for kid, n in sorted(counts.items())) or "empty"
            click.echo(f"  {column:<32} {parts}")
        click.echo(f"{stale} value(s) not under the current key" + (": run `broadcaster privacy rekey`" if stale else ""))
    if stale:
        ctx.exit(1)


@privacy.command("rekey")
@click.pass_context
def privacy_rekey(ctx: click.Context) -> None:
    """Seal clear values and re-seal older keys' values under the current key (rotation)."""
    from broadcaster.store.personal import data_cipher, rekey

    loaded = settings(ctx)
    try:
        cipher = data_cipher(loaded, required=True)
    except BroadcasterError as e:
        raise click.ClickException(str(e)) from e
    if cipher is None:
        raise click.ClickException("privacy rekey needs a data key (privacy.key)")
    report = with_ledger(loaded, lambda ledger: rekey(ledger.db, cipher))
    for column, n in report.resealed.items():
        click.echo(f"{column}: {n} sealed under {cipher.key_id}")


@click.group("retention")
def retention() -> None:
    """Purging personal data that delivery no longer needs."""


@retention.command("run")
@click.option("--days", type=float, help="Override privacy.recipients_retention_days.")
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
@click.pass_context
def retention_run(ctx: click.Context, days: float | None, dry_run: bool) -> None:
    """Purge the recipient lists of final dispatches whose event has been quiet for the period."""
    from broadcaster.store.retention import purge_recipients

    loaded = settings(ctx)
    period = days if days is not None else loaded.privacy.recipients_retention_days
    if period <= 0:
        raise click.ClickException("--days must be more than 0")
    from broadcaster.coverage.retention import purge_coverage

    async def work(ledger: Any) -> Any:
        report = await purge_recipients(ledger, older_than=timedelta(days=period), dry_run=dry_run)
        kept = timedelta(days=loaded.coverage.retention_days)
        return report, await purge_coverage(ledger, older_than=kept, dry_run=dry_run)

    report, coverage = with_ledger(loaded, work)
    verb = "would purge" if dry_run else "purged"
    click.echo(
        f"{verb} the recipient lists of {report.dispatches} dispatch(es) ({report.recipients} addresses) "
        f"older than {report.cutoff:%Y-%m-%d %H:%M} UTC; {report.marked} without a list marked; "
        f"{report.waiting} older kept (not final, or their event is still active)"
    )
    click.echo(
        f"{verb} coverage of alerts older than {coverage.cutoff:%Y-%m-%d %H:%M} UTC: {coverage.marks} reach mark(s), "
        f"{coverage.answers} safety answer(s), {coverage.support} support-list mark(s), {coverage.flags} flag(s)"
    )


COMMANDS = (privacy, retention)
