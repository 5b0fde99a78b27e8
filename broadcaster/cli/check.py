"""`broadcaster check`: settings, tenants, rules, templates and adapters, before a start."""

from __future__ import annotations

import sys

import click

from broadcaster.cli.context import settings


@click.command("check")
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check settings, tenants, rules, templates and adapters; exit 1 on any problem."""
    from broadcaster.checks import run_checks

    try:
        loaded = settings(ctx)
    except click.ClickException as e:
        click.echo(f"FAIL settings: {e.message}")
        sys.exit(1)
    problems = 0
    for ok, what, detail in run_checks(loaded):
        click.echo(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")
        problems += not ok
    if problems:
        click.echo(f"{problems} problem(s)")
        sys.exit(1)
    click.echo("all checks passed")


COMMANDS = (check,)
