"""Adapters are found through entry points, never by scanning folders (docs/decisions.md, decision 14)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from broadcaster.errors import ConfigError
from broadcaster.logging import get_logger

log = get_logger(__name__)

PARSERS = "broadcaster.parsers"
CHANNELS = "broadcaster.channels"
AREAS = "broadcaster.areas"
FEEDS = "broadcaster.feeds"
# Commands an adapter adds to `broadcaster` (click commands; broadcaster/cli/root.py).
COMMANDS = "broadcaster.commands"


@cache
def _group(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def names(group: str) -> list[str]:
    return sorted(_group(group))


def load(group: str, name: str) -> Any:
    ep = _group(group).get(name)
    if ep is None:
        raise ConfigError(
            f"no {group} entry point named {name!r}; installed: {', '.join(names(group)) or 'none'}"
        )
    try:
        return ep.load()
    except Exception as e:  # an adapter that cannot import is a configuration problem
        raise ConfigError(f"{group} entry point {name!r} ({ep.value}) failed to load: {e}") from e


def try_load(group: str, name: str) -> Any | None:
    """The entry point's object, or None when it is not installed or cannot be imported."""
    if name not in _group(group):
        return None
    try:
        return load(group, name)
    except ConfigError as e:
        log.warning("adapter_unavailable", group=group, name=name, error=str(e))
        return None


def load_all(group: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names(group):
        obj = try_load(group, name)
        if obj is not None:
            out[name] = obj
    return out


def area_expander(table: str) -> Callable[[str], list[Any]]:
    return load(AREAS, table)  # type: ignore[no-any-return]
