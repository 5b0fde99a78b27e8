"""The hooks' nonce memory on both databases: a nonce once, a replay never, old ones forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broadcaster.store import migrate
from broadcaster.store.ledger import Ledger
from broadcaster.store.nonces import NonceStore

AT = datetime(2025, 7, 10, 7, 0, tzinfo=UTC)


@asynccontextmanager
async def nonce_store(url: str) -> AsyncIterator[NonceStore]:
    ledger = Ledger.connect(url)
    try:
        await migrate.upgrade(ledger.db)
        yield NonceStore(ledger.db, retention=timedelta(minutes=11))
    finally:
        await ledger.close()


async def _contract(store: NonceStore) -> None:
    assert await store.claim("jalert", "rx", "nonce-0000000000000001", AT)
    assert not await store.claim("jalert", "rx", "nonce-0000000000000001", AT + timedelta(seconds=5))
    assert not await store.claim("jalert", "other-key", "nonce-0000000000000001", AT), "per hook, whoever presents it"
    assert await store.claim("lalert", "rx", "nonce-0000000000000001", AT), "another hook keeps its own"
    # Twelve minutes on, the first nonce's timestamp would be refused as stale anyway: it may go.
    assert await store.claim("jalert", "rx", "nonce-0000000000000002", AT + timedelta(minutes=12))
    assert await store.claim("jalert", "rx", "nonce-0000000000000001", AT + timedelta(minutes=12))


async def test_nonces_on_sqlite(tmp_path: Path) -> None:
    async with nonce_store(f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}") as store:
        await _contract(store)


@pytest.mark.postgres
async def test_nonces_on_postgres(fresh_postgres: str) -> None:
    async with nonce_store(fresh_postgres) as store:
        await _contract(store)
