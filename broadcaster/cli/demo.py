"""`broadcaster demo [--serve]`: the offline demo (broadcaster/demo.py tells its story)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from broadcaster.cli.context import run
from broadcaster.logging import configure


@click.command("demo")
@click.option("--serve", is_flag=True, help="Keep running after the demo (Ctrl-C stops).")
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/demo"),
              show_default=True, help="Where the demo keeps its bus, ledger and outbox (emptied first).")
def demo(serve: bool, workdir: Path) -> None:
    """Run the offline demo: sample telegrams and a manual alert through every channel."""
    from broadcaster.demo import prepare, run_demo

    # The demo tells its own story; the log would only interleave with it.
    configure("ERROR")
    sys.exit(run(run_demo(prepare(workdir), serve=serve)))


COMMANDS = (demo,)
