"""What the benchmarks share: percentiles, a fresh ledger per phase, residents, CPU clocks."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from broadcaster.model import now  # noqa: E402
from broadcaster.store import tables  # noqa: E402
from broadcaster.store.audiences import address_hash  # noqa: E402
from broadcaster.store.ledger import Ledger  # noqa: E402

# The local PostgreSQL of the test suite; a benchmark given --db postgres uses this server.
POSTGRES_URL = os.environ.get("BROADCASTER_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


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
