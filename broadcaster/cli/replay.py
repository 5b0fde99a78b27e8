"""`broadcaster replay`: what each town's channels would carry for a sequence of telegrams."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from broadcaster.cli.context import run, settings


@click.command("replay")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--tenants",
    "tenants_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Tenant files (*.toml, one per town) to replay for, instead of the settings' own.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per telegram.")
@click.pass_context
def replay_command(
    ctx: click.Context, paths: tuple[Path, ...], tenants_dir: Path | None, as_json: bool
) -> None:
    """Run the telegrams in PATHS (files, or folders read in name order) through normalize and
    route, in order, and print per telegram, tenant and audience what each channel would carry:
    state, severity and the first line of the text. Nothing is sent and the deployment's ledger
    and bus are not touched (docs/replay.md)."""
    from broadcaster.replay import render, replay, sequence

    loaded = settings(ctx, log_level="ERROR", tenants_dir=tenants_dir)  # the table is the output
    if not loaded.tenants:
        raise click.ClickException("no tenants: give --tenants DIR or a config that has some")
    files = sequence(paths)
    steps = run(replay(loaded, files))
    if as_json:
        for step in steps:
            click.echo(json.dumps(asdict(step), ensure_ascii=False))
        return
    click.echo(render(steps, {t.id: t.name for t in loaded.tenants.values()}), nl=False)


COMMANDS = (replay_command,)
