"""State of polled feeds in the ledger's database: entries handed on, validators, freshness, alarms.

One `FeedStore` per source ("jma"). It is the state store the feed poller takes (see
adapters/ingest/jma_feed/protocols.py): which entries were already handed on (dedupe that
survives restarts), each feed document's conditional-GET validators, and when each feed last
succeeded. `feed_freshness` is what `broadcaster status`, the stale alarm and metrics read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from broadcaster.store import tables as t
from broadcaster.store.db import Database

# Several hundred ids per statement keep well under SQLite's bound-parameter limit.
_CHUNK = 500


def entry_key(entry_id: str) -> str:
    return hashlib.sha256(entry_id.encode("utf-8")).hexdigest()


class Validators(NamedTuple):
    """What a conditional GET sends back: the ETag and Last-Modified of the last complete read."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FeedFreshness:
    source: str
    feed: str
    last_success: datetime | None
    last_attempt: datetime | None
    # The last success, or the first attempt when none yet; None: never polled.
    since: datetime | None
    # Seconds since `since`.
    age_s: float | None
    stale: bool
    failures: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class AlarmState:
    """The stale-feed alarm in force: the last message sent (its episode and number) and for which feeds."""

    episode: str
    seq: int
    feeds: tuple[str, ...]
    sent: datetime


def _insert_ignore(dialect: str) -> Callable[[sa.Table], Any]:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return lambda table: pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return lambda table: sqlite_insert(table).on_conflict_do_nothing()


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class FeedStore:
    def __init__(self, db: Database, source: str) -> None:
        self.db = db
        self.source = source
        self._insert_ignore = _insert_ignore(db.dialect)

    # -- entries ------------------------------------------------------------------------------

    async def seen(self, entry_ids: Sequence[str]) -> set[str]:
        """The ids among these that were handed on (or refused) before."""
        by_key = {entry_key(i): i for i in entry_ids}
        keys = list(by_key)
        e = t.feed_entries

        def work(c: sa.Connection) -> set[str]:
            found: set[str] = set()
            for chunk in _chunks(keys):
                rows = c.execute(
                    sa.select(e.c.entry_key).where(e.c.source == self.source, e.c.entry_key.in_(chunk))
                )
                found.update(by_key[r.entry_key] for r in rows)
            return found

        return await self.db.read(work) if keys else set()

    async def mark_seen(
        self,
        feed: str,
        entry_id: str,
        *,
        at: datetime,
        url: str | None = None,
        raw_event_id: str | None = None,
        refused: bool = False,
    ) -> None:
        row = {
            "source": self.source,
            "entry_key": entry_key(entry_id),
            "entry_id": entry_id,
            "feed": feed,
            "url": url,
            "state": "refused" if refused else "fetched",
            "raw_event_id": raw_event_id,
            "at": at,
        }
        await self.db.write(lambda c: c.execute(self._insert_ignore(t.feed_entries), [row]))

    async def prune(self, before: datetime) -> int:
        """Forget entries handed on before `before` (far older than any feed keeps an entry)."""
        e = t.feed_entries

        def work(c: sa.Connection) -> int:
            return c.execute(sa.delete(e).where(e.c.source == self.source, e.c.at < before)).rowcount

        return await self.db.write(work)

    # -- feed documents -----------------------------------------------------------------------

    async def validators(self, feed: str) -> Validators:
        s = t.feed_status

        def work(c: sa.Connection) -> Validators:
            row = c.execute(
                sa.select(s.c.etag, s.c.last_modified).where(s.c.source == self.source, s.c.feed == feed)
            ).first()
            return Validators(row.etag, row.last_modified) if row is not None else Validators()

        return await self.db.read(work)

    def _ensure_row(self, c: sa.Connection, feed: str, at: datetime) -> None:
        c.execute(
            self._insert_ignore(t.feed_status),
            [{"source": self.source, "feed": feed, "first_attempt": at, "last_attempt": at, "failures": 0}],
        )

    async def record_success(
        self, feed: str, at: datetime, *, etag: str | None = None, last_modified: str | None = None
    ) -> None:
        s = t.feed_status

        def work(c: sa.Connection) -> None:
            self._ensure_row(c, feed, at)
            c.execute(
                s.update()
                .where(s.c.source == self.source, s.c.feed == feed)
                .values(
                    etag=etag,
                    last_modified=last_modified,
                    last_attempt=at,
                    last_success=at,
                    failures=0,
                    last_error=None,
                )
            )

        await self.db.write(work)

    async def record_failure(self, feed: str, at: datetime, error: str) -> None:
        """A failed poll; the validators stay as they were, so the next poll reads the feed whole."""
        s = t.feed_status

        def work(c: sa.Connection) -> None:
            self._ensure_row(c, feed, at)
            c.execute(
                s.update()
                .where(s.c.source == self.source, s.c.feed == feed)
                .values(last_attempt=at, failures=s.c.failures + 1, last_error=error[:2000])
            )

        await self.db.write(work)

    async def first_polled(self, feed: str) -> datetime | None:
        s = t.feed_status
        return await self.db.read(
            lambda c: c.execute(
                sa.select(s.c.first_attempt).where(s.c.source == self.source, s.c.feed == feed)
            ).scalar()
        )

    async def last_success(self, feed: str) -> datetime | None:
        s = t.feed_status
        return await self.db.read(
            lambda c: c.execute(
                sa.select(s.c.last_success).where(s.c.source == self.source, s.c.feed == feed)
            ).scalar()
        )

    async def freshness(self, feeds: Sequence[str], at: datetime, stale_after: timedelta) -> list[FeedFreshness]:
        return await feed_freshness(self.db, self.source, feeds, at, stale_after)

    # -- the stale alarm ----------------------------------------------------------------------

    async def alarm(self) -> AlarmState | None:
        a = t.feed_alarms

        def work(c: sa.Connection) -> AlarmState | None:
            row = c.execute(sa.select(a).where(a.c.source == self.source)).first()
            if row is None:
                return None
            return AlarmState(row.episode, row.seq, tuple(row.feeds), row.sent)

        return await self.db.read(work)

    async def set_alarm(self, state: AlarmState | None) -> None:
        a = t.feed_alarms

        def work(c: sa.Connection) -> None:
            c.execute(sa.delete(a).where(a.c.source == self.source))
            if state is not None:
                c.execute(
                    a.insert().values(
                        source=self.source,
                        episode=state.episode,
                        seq=state.seq,
                        feeds=list(state.feeds),
                        sent=state.sent,
                    )
                )

        await self.db.write(work)


async def feed_freshness(
    db: Database, source: str, feeds: Sequence[str], at: datetime, stale_after: timedelta
) -> list[FeedFreshness]:
    """Per feed, how long since it last succeeded and whether that is stale (for status and metrics).

    A feed that never succeeded counts from its first attempt; one never polled is not stale.
    """
    s = t.feed_status

    def work(c: sa.Connection) -> dict[str, Any]:
        rows = c.execute(sa.select(s).where(s.c.source == source, s.c.feed.in_(list(feeds))))
        return {r.feed: r for r in rows}

    rows = await db.read(work) if feeds else {}
    out: list[FeedFreshness] = []
    for feed in feeds:
        r = rows.get(feed)
        if r is None:
            out.append(FeedFreshness(source, feed, None, None, None, None, False, 0, None))
            continue
        since = r.last_success or r.first_attempt
        age = (at - since).total_seconds()
        out.append(
            FeedFreshness(
                source, feed, r.last_success, r.last_attempt, since, age, age > stale_after.total_seconds(),
                r.failures, r.last_error,
            )
        )
    return out
