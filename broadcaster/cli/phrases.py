"""`broadcaster phrases export|import|status`: the fixed-phrase tables, for translators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from broadcaster.cli.context import settings
from broadcaster.errors import ConfigError
from broadcaster.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    return settings(ctx, log_level="ERROR")  # the table or the CSV is the output


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


COMMANDS = (phrases_group,)
