"""Fixtures shared by every tier of the suite."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests import secret_scan
from tests.canaries import DATA_KEY, remember
from tests.secret_scan import (  # noqa: F401  (hooks: no credential may reach any log output)
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

secret_scan.install()
# Every process the suite starts seals personal data, as a deployment must (docs/privacy.md);
# the key is a canary like every other credential of the suite.
remember(os.environ.setdefault("BROADCASTER_PRIVACY__KEY", DATA_KEY), "privacy data key")

ROOT = Path(__file__).resolve().parents[1]
# The public corpus sits beside the project in development and CI; tests that read it skip only
# when it is absent (a checkout on its own).
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("the shared corpus is not beside this checkout")
    return CORPUS


from tests.kafka_broker import KafkaBroker  # noqa: E402


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    broker = KafkaBroker()
    broker.start(tmp_path_factory.mktemp("kafka"))
    try:
        yield broker
    finally:
        broker.stop()


POSTGRES_ADMIN_URL = os.environ.get("BROADCASTER_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@pytest.fixture
async def fresh_postgres() -> AsyncIterator[str]:
    """A database of its own on the test PostgreSQL server, dropped afterwards."""
    import uuid

    import asyncpg

    name = f"broadcaster_{uuid.uuid4().hex[:10]}"
    dsn = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
