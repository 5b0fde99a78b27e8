"""`broadcaster preview` and `broadcaster phrases`: what officers and translators run.

Registered on the main command group in broadcaster/cli.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from broadcaster.errors import BroadcasterError, ConfigError
from broadcaster.logging import configure
from broadcaster.settings import Settings, load_settings


def _settings(ctx: click.Context) -> Settings:
    obj = ctx.ensure_object(dict)
    try:
        settings = load_settings(obj.get("config"))
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    # Output is the table; log lines would only interleave with it.
    configure(obj.get("log_level") or "ERROR", settings.log_format)
    return settings


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
    from broadcaster.pipeline.normalize import Refused, parse
    from broadcaster.pipeline.runner import load_parsers
    from broadcaster.render.preview import preview
    from broadcaster.render.renderer import Renderer
    from broadcaster.sources import raw_from_file

    settings = _settings(ctx)
    tenant = tenant or next(iter(settings.tenants), None)
    if tenant is None:
        raise click.ClickException("no tenant configured; name one with --tenant")
    tenant_name = settings.tenants[tenant].name if tenant in settings.tenants else tenant
    try:
        raw = raw_from_file(file, officer=officer, tenant=tenant, source=None, known_tenants=settings.tenants or None)
        renderer = Renderer(settings.templates_dir)
    except BroadcasterError as e:
        raise click.ClickException(str(e)) from e
    result = parse(raw, load_parsers())
    if isinstance(result, Refused):
        raise click.ClickException(f"{file.name} was refused: {result.reason}: {result.detail}")
    bad = 0
    for alert in result:
        rows = preview(
            alert.for_tenant(tenant),
            renderer,
            tenant=tenant,
            tenant_name=tenant_name,
            public_url=settings.web.public_url,
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


@click.group("phrases")
def phrases_group() -> None:
    """The phrase tables: fixed wording per language, for translators and reviewers."""


def _book(settings: Settings) -> Any:
    from broadcaster.render.lookup import TemplateSet
    from broadcaster.render.phrases import PhraseBook
    from broadcaster.render.renderer import PROJECT_TEMPLATES

    dirs = TemplateSet([settings.templates_dir, PROJECT_TEMPLATES], check_interval_s=0).phrase_dirs()
    try:
        return PhraseBook.load(dirs)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e


@phrases_group.command("export")
@click.option("--lang", "languages", multiple=True, help="Only these languages (default: all).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File (default: standard output).")
@click.pass_context
def phrases_export(ctx: click.Context, languages: tuple[str, ...], output: Path | None) -> None:
    """Write the tables as CSV: key, note, ja, then text, status and reviewer per language."""
    from broadcaster.render.phrase_csv import export_csv

    text = export_csv(_book(_settings(ctx)), list(languages) or None)
    if output is None:
        click.echo(text, nl=False)
    else:
        # With a BOM, spreadsheet programs open the Japanese columns correctly.
        output.write_text("\ufeff" + text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@phrases_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", required=True, help="Who supplied the translations (recorded on drafts that name nobody).")
@click.pass_context
def phrases_import(ctx: click.Context, file: Path, by: str) -> None:
    """Read a translator's CSV back. Nothing is written if any row is wrong.

    A row marked reviewed must name its reviewer (a person, never "machine"); a changed text
    that is not marked reviewed is recorded as drafted.
    """
    from broadcaster.render.languages import SUPPORTED
    from broadcaster.render.phrase_csv import import_csv
    from broadcaster.render.phrases import PHRASES_DIR, save_tables

    settings = _settings(ctx)
    try:
        result = import_csv(_book(settings), file.read_text(encoding="utf-8"), by=by, known_languages=SUPPORTED)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    if not result.changed:
        click.echo("nothing changed")
        return
    written = save_tables(result.book, settings.templates_dir / PHRASES_DIR, sorted(result.languages))
    for lang, counts in sorted(result.summary().items()):
        click.echo(f"{lang}: {counts['drafted']} drafted, {counts['reviewed']} reviewed")
    click.echo(f"wrote {', '.join(str(p) for p in written)}; running workers pick them up within seconds")


@phrases_group.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def phrases_status(ctx: click.Context, as_json: bool) -> None:
    """Per language: phrases reviewed by a fluent speaker, drafted, missing; and by whom."""
    rows = _book(_settings(ctx)).coverage()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    click.echo(f"{'language':<11}{'reviewed':>9}{'drafted':>9}{'missing':>9}  reviewers")
    for r in rows:
        click.echo(
            f"{r['language']:<11}{r['reviewed']:>9}{r['drafted']:>9}{r['missing']:>9}  {', '.join(r['reviewers']) or '-'}"
        )
