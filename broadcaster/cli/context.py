"""What every command shares: one way to load settings, open the stores, and report an error.

A command takes the settings from `settings(ctx)`, and opens the ledger (and the bus, when it
publishes) through `ledger_of`, `stores_of` or `with_ledger`; each applies the one migration rule
of `broadcaster/store/migrate.py` (docs/decisions.md, decision 17) before the command sees a
store, and closes what it opened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from broadcaster.bus import Bus
from broadcaster.errors import ConfigError
from broadcaster.logging import configure
from broadcaster.settings import Settings, load_settings
from broadcaster.store.ledger import Ledger

T = TypeVar("T")


def settings(ctx: click.Context, *, log_level: str | None = None, **overrides: Any) -> Settings:
    """The settings of `--config` (or BROADCASTER_CONFIG) and the environment, with overrides.

    Logging is configured here too: `--log-level` first, then `log_level` (a command whose
    output is a table passes "ERROR" so that log lines do not interleave with it), then the
    settings' own level.
    """
    obj = ctx.ensure_object(dict)
    extra = {k: v for k, v in overrides.items() if v is not None}
    try:
        loaded = load_settings(obj.get("config"), **extra)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    configure(obj.get("log_level") or log_level or loaded.log_level, loaded.log_format)
    return loaded


def bus_db_overrides(bus: str | None, db: str | None) -> dict[str, Any]:
    """Settings overrides from the `--bus` and `--db` options."""
    out: dict[str, Any] = {}
    if db:
        out["db_url"] = db
    if bus:
        out["bus"] = {"url": bus}
    return out


def require_tenant(settings: Settings, tenant: str) -> None:
    if tenant not in settings.tenants:
        raise click.ClickException(f"unknown tenant {tenant!r}; tenants: {', '.join(settings.tenants) or 'none'}")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine (the root group turns an operator's error into one line)."""
    return asyncio.run(coro)


def sqlite_ledger_exists(settings: Settings) -> bool:
    """Whether the ledger is there to read (a read-only command must not create an empty one)."""
    from broadcaster.store.db import sqlite_path

    return not settings.db_url.startswith("sqlite") or Path(sqlite_path(settings.db_url)).exists()


async def open_ledger(settings: Settings, *, key_required: bool = True, synchronous: str = "NORMAL") -> Ledger:
    """The ledger at a revision this code can use (`broadcaster.store.migrate.open_current`, the
    one rule the composition root applies too)."""
    from broadcaster.store.migrate import open_current

    return await open_current(settings, key_required=key_required, synchronous=synchronous)


@asynccontextmanager
async def ledger_of(settings: Settings, *, key_required: bool = True, tenants: bool = False) -> AsyncIterator[Ledger]:
    """The ledger for the length of a block; `tenants=True` registers the settings' towns first."""
    ledger = await open_ledger(settings, key_required=key_required)
    try:
        if tenants:
            await ledger.ensure_tenants((t.id, t.name) for t in settings.tenants.values())
        yield ledger
    finally:
        await ledger.close()


@asynccontextmanager
async def stores_of(settings: Settings) -> AsyncIterator[tuple[Bus, Ledger]]:
    """The bus and the ledger, for a command that publishes (send, approve, republish, status)."""
    # The same order as the composition root's `open_stores` (broadcaster/app.py), without
    # loading the services a one-shot command does not use.
    from broadcaster.bus import open_bus

    ledger = await open_ledger(settings, synchronous=settings.bus.sqlite_synchronous)
    try:
        bus = open_bus(settings.bus)
        await bus.start()
        try:
            yield bus, ledger
        finally:
            await bus.close()
    finally:
        await ledger.close()


def with_ledger(
    settings: Settings, work: Callable[[Ledger], Awaitable[T]], *, key_required: bool = True, tenants: bool = False
) -> T:
    """Run `work(ledger)` to the end, then close the ledger."""

    async def go() -> T:
        async with ledger_of(settings, key_required=key_required, tenants=tenants) as ledger:
            return await work(ledger)

    return run(go())
