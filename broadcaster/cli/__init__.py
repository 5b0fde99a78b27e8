"""The `broadcaster` command (README, *The command*); `root.py` registers every command module."""

from broadcaster.cli.root import main

__all__ = ["main"]
