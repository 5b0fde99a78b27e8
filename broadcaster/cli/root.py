"""The `broadcaster` command group, and where each command module is registered.

A new command group is one module in this package that lists its commands in `COMMANDS`, plus
its line in `MODULES` below. Commands that belong to an adapter (the J-Alert bridge, the LINE
rich menu, the Web Push keys) are registered by their package under the `broadcaster.commands`
entry point instead (docs/decisions.md, decision 14).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from broadcaster import registry
from broadcaster.cli import (
    access,
    alerts,
    audiences,
    check,
    coverage,
    db,
    demo,
    drill,
    leaders,
    phrases,
    pipeline,
    preview,
    privacy,
    replay,
    rules,
    stats,
)
from broadcaster.errors import BroadcasterError

MODULES = (
    pipeline,  # run, worker
    db,  # db upgrade
    check,  # check
    alerts,  # send, approve, republish, status, parse
    preview,  # preview
    replay,  # replay
    phrases,  # phrases export|import|status
    rules,  # rules simulate|list|status
    audiences,  # audiences import|export|leave|counts|recount
    access,  # users, tokens, audit
    privacy,  # privacy keygen|status|rekey, retention run
    leaders,  # leaders link-code
    demo,  # demo
    stats,  # stats fetch|show
    coverage,  # coverage ALERT_ID, support import
    drill,  # drill run|reports
)


class _Root(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        # An error an operator can act on (settings, a missing revision, a refused input) is one
        # clear line and exit status 1, not a traceback.
        try:
            return super().invoke(ctx)
        except BroadcasterError as e:
            raise click.ClickException(str(e)) from e


@click.group(cls=_Root)
@click.option("--config", "-c", type=click.Path(dir_okay=False, path_type=Path), envvar="BROADCASTER_CONFIG",
              help="TOML settings file (also BROADCASTER_CONFIG).")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING, ERROR.")
@click.pass_context
def main(ctx: click.Context, config: Path | None, log_level: str | None) -> None:
    """Emergency information broadcaster: one input, every medium at once."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    ctx.obj["log_level"] = log_level


for _module in MODULES:
    for _command in _module.COMMANDS:
        main.add_command(_command)

for _command in registry.load_all(registry.COMMANDS).values():
    if isinstance(_command, click.Command):
        main.add_command(_command)
