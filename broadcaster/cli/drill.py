"""`broadcaster drill run SCENARIO` and `broadcaster drill reports`: the drill room (docs/drills.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from broadcaster.cli.context import run, sqlite_ledger_exists, with_ledger
from broadcaster.cli.context import settings as _settings


@click.group("drill")
def drill() -> None:
    """Drills: a scenario run into a sandbox where everything is Exercise and nothing leaves the outbox."""


@drill.command("run")
@click.argument("scenario_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="Faster than real time (60: an hour a minute).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def drill_run(ctx: click.Context, scenario_file: Path, speed: float, as_json: bool) -> None:
    """Run SCENARIO_FILE into a fresh sandbox and print the drill report (kept for comparison)."""
    from broadcaster.drill.report import text
    from broadcaster.drill.run import DrillRun
    from broadcaster.drill.scenario import load

    loaded = _settings(ctx)
    scenario = load(scenario_file)
    officers = _officers(loaded, scenario.tenant)
    room = DrillRun(loaded, scenario, speed=speed, officers=officers)
    click.echo(f"訓練開始 / drill: {scenario.name} ({scenario.tenant}), {len(scenario.steps)} steps, "
               f"{scenario.length_s / speed:.0f} s at x{speed:g}; sandbox {room.root}")  # fmt: skip

    def told(i: int, step: object) -> None:
        click.echo(f"  step {i}: {getattr(step, 'note', '') or 'input'}")

    report = run(room.run(on_step=None if as_json else told))
    click.echo(report.model_dump_json(indent=1) if as_json else text(report))


def _officers(loaded: Any, tenant: str) -> list[Any]:
    """The town's officers from the live ledger (read only), when there is one."""
    from broadcaster.store.audiences import Audiences

    if not sqlite_ledger_exists(loaded):
        return []

    async def work(ledger: Any) -> list[Any]:
        return [p for p in await Audiences(ledger.db).people(tenant) if p.kind == "officer"]

    return with_ledger(loaded, work)


@drill.command("reports")
@click.pass_context
def drill_reports(ctx: click.Context) -> None:
    """Every kept drill report, oldest first, with the figures to compare them by."""
    from broadcaster.drill.report import compare, load_reports

    loaded = _settings(ctx)
    reports = load_reports(loaded.var_dir / "drills" / "reports")
    click.echo(compare(reports) if reports else "no drill has been run yet")


COMMANDS = (drill,)
