"""`broadcaster preview FILE`: one alert rendered for every channel and language, with lengths."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from broadcaster.cli.context import settings
from broadcaster.errors import BroadcasterError


@click.command("preview")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", help="Whose town the alert is rendered for (default: the first configured).")
@click.option("--officer", default="preview", show_default=True, help="Officer named on a manual alert (nothing is sent).")
@click.option("--channel", "channels", multiple=True, help="Only these channels (repeatable).")
@click.option("--lang", "languages", multiple=True, help="Only these languages (repeatable; e.g. ja, vi, ja-x-easy).")
@click.option("--full", is_flag=True, help="Print every title and part, not only the table.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per row.")
@click.pass_context
def preview_command(
    ctx: click.Context,
    file: Path,
    tenant: str | None,
    officer: str,
    channels: tuple[str, ...],
    languages: tuple[str, ...],
    full: bool,
    as_json: bool,
) -> None:
    """Render FILE (a telegram or a manual alert JSON) for every channel and language.

    Shows each text's parts with their lengths against the channel's limit, whether it was cut,
    and where a template failed. Exit status 1 when a row does not fit or fell back to plain text.
    """
    from broadcaster.pipeline.coast import localize
    from broadcaster.pipeline.normalize import Refused, assign_tenants, parse
    from broadcaster.pipeline.runtime import load_parsers
    from broadcaster.pipeline.tenancy import TenantDirectory
    from broadcaster.render.preview import preview
    from broadcaster.render.renderer import Renderer
    from broadcaster.sources import raw_from_file

    loaded = settings(ctx, log_level="ERROR")  # the table is the output
    tenant = tenant or next(iter(loaded.tenants), None)
    if tenant is None:
        raise click.ClickException("no tenant configured; name one with --tenant")
    if tenant not in loaded.tenants:
        # A made-up id would title the text 【id】 and match no area: refuse it, as route does.
        raise click.ClickException(f"unknown tenant {tenant!r}; tenants: {', '.join(loaded.tenants)}")
    tenant_name = loaded.tenants[tenant].name
    try:
        raw = raw_from_file(file, officer=officer, tenant=tenant, source=None, known_tenants=loaded.tenants or None)
        renderer = Renderer(loaded.templates_dir)
    except BroadcasterError as e:
        raise click.ClickException(str(e)) from e
    result = parse(raw, load_parsers())
    if isinstance(result, Refused):
        raise click.ClickException(f"{file.name} was refused: {result.reason}: {result.detail}")
    bad = 0
    directory = TenantDirectory.from_settings(loaded)
    # The town's own copy, as normalize makes it for route and replay: only when the telegram
    # names one of its areas, with the town's own rows first (docs/templates.md).
    assigned = assign_tenants(result, raw, directory)
    if isinstance(assigned, Refused):
        raise click.ClickException(f"{file.name} was refused: {assigned.reason}: {assigned.detail}")
    mine = [a for a in assigned if a.tenant == tenant]
    if not mine:
        raise click.ClickException(f"{file.name} reaches no one in {tenant_name} ({tenant}): it names none of its areas")
    for alert in mine:
        # As the tenant would hear it: a tsunami rated by its own coast (pipeline/coast.py).
        own = localize(alert, directory.context(tenant, alert))
        rows = preview(
            own,
            renderer,
            tenant=tenant,
            tenant_name=tenant_name,
            public_url=loaded.web.public_url,
            channels=channels or None,
            languages=languages or None,
        )
        bad += sum(1 for r in rows if not r.fits or r.fallback)
        if as_json:
            for r in rows:
                click.echo(json.dumps({"alert": alert.identifier, **r.as_dict()}, ensure_ascii=False, default=str))
            continue
        click.echo(f"{alert.identifier}  {alert.status.value} {alert.msg_type.value}  {alert.primary.event if alert.info else ''}")
        click.echo(_table(rows))
        if full:
            for r in rows:
                click.echo(f"\n── {r.channel} / {r.language} ── {r.title}")
                for i, (part, n) in enumerate(zip(r.parts, r.lengths, strict=True), start=1):
                    limit = f"/{r.limit}" if r.limit else ""
                    click.echo(f"[{i}/{len(r.parts)} · {n}{limit} {r.unit}]\n{part}")
    if bad:
        click.echo(f"{bad} row(s) do not fit or fell back to plain text", err=True)
        sys.exit(1)


def _table(rows: list[Any]) -> str:
    lines = [f"{'channel':<11}{'lang':<10}{'kind':<16}{'parts':>5}  {'lengths / limit':<24}{'fit':<5}notes"]
    for r in rows:
        limit = f" / {r.limit} {r.unit}" if r.limit else ""
        lengths = ",".join(str(n) for n in r.lengths) + limit
        notes = []
        if r.cut:
            notes.append("cut, links to the page")
        if r.fallback:
            notes.append(f"TEMPLATE FAILED: {r.fallback[:60]}")
        if r.served != r.language:
            notes.append(f"served in {r.served}")
        if r.unreviewed:
            notes.append(f"{len(r.unreviewed)} unreviewed phrase(s)")
        lines.append(
            f"{r.channel:<11}{r.language:<10}{r.kind:<16}{len(r.parts):>5}  {lengths:<24}{'ok' if r.fits else 'NO':<5}{'; '.join(notes)}"
        )
    return "\n".join(lines)


COMMANDS = (preview_command,)
