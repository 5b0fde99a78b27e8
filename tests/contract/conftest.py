from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from broadcaster.bus import Bus
from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.bus.kafka import KafkaBus
from broadcaster.store import migrate
from broadcaster.store.ledger import Ledger


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
async def any_bus(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bus]:
    bus: Bus
    if request.param == "kafka":
        broker = request.getfixturevalue("kafka")
        bus = KafkaBus(broker.bootstrap, partitions=4, session_timeout_ms=6000, heartbeat_interval_ms=500)
    else:
        bus = EmbeddedBus(tmp_path / "bus.sqlite3", partitions=4, poll_interval=0.05)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()


POSTGRES_URL = os.environ.get(
    "BROADCASTER_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def _fresh_postgres(url: str) -> Ledger:
    ledger = Ledger.connect(url)

    def reset(c: sa.Connection) -> None:
        # Each test starts from an empty schema; the migrations then build it as in production.
        c.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        c.execute(sa.text("CREATE SCHEMA public"))

    await ledger.db.write(reset)
    return ledger


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Ledger]:
    if request.param == "sqlite":
        store = Ledger.connect(f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}")
    else:
        store = await _fresh_postgres(POSTGRES_URL)
    try:
        await migrate.upgrade(store.db)
        await store.ensure_tenants([("anamizu", "穴水町"), ("wajima", "輪島市")])
        yield store
    finally:
        await store.close()
