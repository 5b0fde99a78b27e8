"""The feed poller's state in the ledger database, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from broadcaster.store import tables
from broadcaster.store.feeds import AlarmState, FeedStore, feed_freshness
from broadcaster.store.ledger import Ledger

T0 = datetime(2026, 1, 1, 7, 0, 20, tzinfo=UTC)
FEED_TABLES = {"feed_entries", "feed_status", "feed_alarms"}


async def test_the_migration_builds_exactly_the_tables_of_tables_py(ledger: Ledger) -> None:
    def diff(c: sa.Connection) -> list[Any]:
        mc = MigrationContext.configure(c, opts={"compare_type": True})
        return [d for d in compare_metadata(mc, tables.metadata) if FEED_TABLES & _tables_named(d)]

    assert await ledger.db.read(diff) == []


def _tables_named(d: Any) -> set[str]:
    names: set[str] = set()
    for part in d if isinstance(d, list) else [d]:
        for item in part if isinstance(part, tuple) else [part]:
            name = getattr(item, "name", None) if not isinstance(item, str) else item
            table = getattr(item, "table", None)
            names.update(n for n in (name, getattr(table, "name", None)) if isinstance(n, str))
    return names


async def test_entries_are_seen_once_by_any_feed_and_marking_is_idempotent(ledger: Ledger) -> None:
    store = FeedStore(ledger.db, "jma")
    ids = [f"http://www.data.jma.go.jp/developer/xml/data/{n:04d}_VXSE51.xml" for n in range(1200)]
    assert await store.seen(ids) == set()
    await store.mark_seen("eqvol_l", ids[0], at=T0, url=ids[0], raw_event_id="r0")
    await store.mark_seen("eqvol", ids[0], at=T0, url=ids[0], raw_event_id="r0-again")  # no error
    for i in ids[1:1100]:
        await store.mark_seen("eqvol", i, at=T0)
    assert await store.seen(ids) == set(ids[:1100]), "looked up in chunks"
    # Another source never shares an entry with JMA's.
    assert await FeedStore(ledger.db, "other").seen(ids) == set()

    def row(c: sa.Connection) -> Any:
        e = tables.feed_entries
        return c.execute(sa.select(e).where(e.c.entry_id == ids[0])).one()

    first = await ledger.db.read(row)
    assert (first.feed, first.raw_event_id, first.state) == ("eqvol_l", "r0", "fetched")
    assert first.at == T0


async def test_ids_of_any_length_and_script_fit(ledger: Ledger) -> None:
    store = FeedStore(ledger.db, "jma")
    long_id = "urn:uuid:" + "あ" * 3000
    await store.mark_seen("regular", long_id, at=T0, refused=True)
    assert await store.seen([long_id, long_id[:-1]]) == {long_id}


async def test_validators_survive_failures_and_success_resets_the_count(ledger: Ledger) -> None:
    store = FeedStore(ledger.db, "jma")
    assert await store.validators("eqvol") == (None, None)
    assert await store.last_success("eqvol") is None
    await store.record_success("eqvol", T0, etag='"abc"', last_modified="Thu, 01 Jan 2026 07:00:00 GMT")
    for n in range(3):
        await store.record_failure("eqvol", T0 + timedelta(minutes=n + 1), f"HTTP 503 #{n}")
    assert await store.validators("eqvol") == ('"abc"', "Thu, 01 Jan 2026 07:00:00 GMT")
    assert await store.last_success("eqvol") == T0
    (f,) = await store.freshness(["eqvol"], T0 + timedelta(minutes=5), timedelta(minutes=10))
    assert (f.failures, f.last_error, f.stale, f.age_s) == (3, "HTTP 503 #2", False, 300.0)
    assert f.last_attempt == T0 + timedelta(minutes=3)
    await store.record_success("eqvol", T0 + timedelta(minutes=6), etag=None, last_modified=None)
    (f,) = await store.freshness(["eqvol"], T0 + timedelta(minutes=6), timedelta(minutes=10))
    assert (f.failures, f.last_error, f.age_s) == (0, None, 0.0)
    assert await store.validators("eqvol") == (None, None)


async def test_freshness_per_feed(ledger: Ledger) -> None:
    store = FeedStore(ledger.db, "jma")
    await store.record_success("regular", T0, etag="a")
    await store.record_failure("extra", T0, "connection refused")  # never succeeded
    at = T0 + timedelta(minutes=11)
    rows = await feed_freshness(ledger.db, "jma", ["regular", "extra", "eqvol"], at, timedelta(minutes=10))
    by = {f.feed: f for f in rows}
    assert [f.feed for f in rows] == ["regular", "extra", "eqvol"]
    assert by["regular"].stale and by["regular"].since == T0 and by["regular"].age_s == 660.0
    assert by["extra"].stale and by["extra"].last_success is None and by["extra"].since == T0
    assert not by["eqvol"].stale and by["eqvol"].age_s is None, "never polled is not stale"
    assert all(f.last_attempt is None or f.last_attempt.tzinfo is not None for f in rows)


async def test_alarm_state_is_kept_and_cleared(ledger: Ledger) -> None:
    store = FeedStore(ledger.db, "jma")
    assert await store.alarm() is None
    state = AlarmState("20260101T070020Z", 0, ("extra", "regular"), T0)
    await store.set_alarm(state)
    assert await store.alarm() == state
    await store.set_alarm(AlarmState("20260101T070020Z", 1, ("regular",), T0 + timedelta(minutes=1)))
    assert (await store.alarm()) == AlarmState("20260101T070020Z", 1, ("regular",), T0 + timedelta(minutes=1))
    await store.set_alarm(None)
    assert await store.alarm() is None


async def test_old_entries_are_pruned(ledger: Ledger) -> None:
    store = FeedStore(ledger.db, "jma")
    await store.mark_seen("eqvol", "old", at=T0 - timedelta(days=40))
    await store.mark_seen("eqvol", "new", at=T0)
    assert await store.prune(T0 - timedelta(days=30)) == 1
    assert await store.seen(["old", "new"]) == {"new"}
