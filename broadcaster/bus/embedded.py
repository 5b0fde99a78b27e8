"""The embedded bus: a durable, partitioned log in one SQLite file (WAL), for one machine.

Semantics follow Kafka where it matters (see protocol.py). Design notes:

* One writer thread owns the write connection and applies queued operations in a single
  transaction (group commit): under load many publishes and commits share one fsync, and when the
  system is quiet a single publish is committed at once.
* Offsets are a global sequence (SQLite rowid), so commit order is log order across processes
  that share the file; offsets in one partition are increasing but not contiguous.
* A commit that goes with a retry or dead-letter publish is written in the same transaction, so
  a crash can neither lose the message nor leave both copies.
* Publishes wake the consumers of the partitions they wrote to at once. Messages written by
  another process (for example ``broadcaster send``) are found by one watcher per bus that asks
  every ``poll_interval`` seconds which partitions grew; idle partitions cost nothing.
* A consumer group is held by one consumer at a time (a lease row with the owner's pid), so two
  ``broadcaster run`` processes on one file never consume the same partition twice; the lease of
  a dead process is taken over at once, and so is one whose heartbeat is older than
  ``LEASE_STALE_S`` (a stalled process). A holder whose renewal finds the lease gone stops
  consuming and waits to take it again from the committed offsets; every commit is fenced by the
  lease, so a stalled holder waking up cannot move the new holder's offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import time
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from broadcaster.bus.protocol import (
    Ack,
    DeadLetter,
    Handler,
    Outcome,
    Outgoing,
    Record,
    Retry,
    TopicSpec,
)
from broadcaster.bus.topics import (
    dead_letter_message,
    is_retry_topic,
    not_before,
    retry_message,
    tier_topics,
)
from broadcaster.errors import ConfigError, TransientError
from broadcaster.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    headers TEXT NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_partition ON messages (topic, partition, seq);
CREATE TABLE IF NOT EXISTS commits (
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, partition)
);
CREATE TABLE IF NOT EXISTS members (
    grp TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    heartbeat REAL NOT NULL
);
"""

LEASE_STALE_S = 30.0
HEARTBEAT_S = 5.0
# Unexpected handler exceptions are retried this many times before dead-lettering: a bug must
# not spin forever, nor drop a message on its first occurrence.
MAX_UNEXPECTED_ATTEMPTS = 10


def partition_for(key: str, partitions: int) -> int:
    return zlib.crc32(key.encode("utf-8")) % partitions


class LeaseLost(Exception):
    """The consumer's group lease is held by another consumer now; it must stop consuming."""


@dataclass
class _Op:
    publishes: list[Outgoing]
    commit: tuple[str, str, int, int] | None  # group, topic, partition, seq
    future: asyncio.Future[None] = field(repr=False)
    # The lease the commit needs (the consumer's owner id); None for a bare commit (tests).
    owner: str | None = None


class EmbeddedBus:
    def __init__(
        self,
        path: Path,
        *,
        partitions: int = 8,
        poll_interval: float = 0.2,
        synchronous: str = "NORMAL",
        retention_hours: float = 72.0,
    ) -> None:
        self.path = Path(path)
        self.default_partitions = partitions
        self.poll_interval = poll_interval
        self.synchronous = synchronous
        self.retention_s = retention_hours * 3600
        self._writer_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bus-writer")
        self._reader_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bus-reader")
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._queue: asyncio.Queue[_Op] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        self._partitions: dict[str, int] = {}
        self._wake: dict[tuple[str, int], asyncio.Event] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._seen_seq = 0
        self._started = False
        self._last_cleanup = 0.0

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._on_writer(self._open_writer)
        await self._on_reader(self._open_reader)
        self._seen_seq = await self._on_reader(self._max_seq)
        self._writer_task = asyncio.create_task(self._writer_loop(), name="bus-writer")
        self._watcher = asyncio.create_task(self._watch(), name="bus-watcher")
        self._started = True

    async def close(self) -> None:
        if not self._started:
            return
        self._started = False
        for task in (self._watcher, self._writer_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._on_writer(self._close_writer)
        await self._on_reader(self._close_reader)
        self._writer_pool.shutdown(wait=True)
        self._reader_pool.shutdown(wait=True)

    async def __aenter__(self) -> EmbeddedBus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _open_writer(self) -> None:
        self._wconn = self._connect()
        self._wconn.executescript(_SCHEMA)
        for name, parts in self._wconn.execute("SELECT name, partitions FROM topics"):
            self._partitions[name] = parts

    def _open_reader(self) -> None:
        self._rconn = self._connect()

    def _close_writer(self) -> None:
        if self._wconn is not None:
            self._wconn.close()
            self._wconn = None

    def _close_reader(self) -> None:
        if self._rconn is not None:
            self._rconn.close()
            self._rconn = None

    async def _on_writer(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._writer_pool, fn, *args)

    async def _on_reader(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._reader_pool, fn, *args)

    # -- topics -------------------------------------------------------------------------------

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        await self._on_writer(self._ensure_topics_sync, list(specs))

    def _ensure_topics_sync(self, specs: list[TopicSpec]) -> None:
        assert self._wconn is not None
        for spec in specs:
            row = self._wconn.execute("SELECT partitions FROM topics WHERE name = ?", (spec.name,)).fetchone()
            if row is None:
                self._wconn.execute("INSERT INTO topics VALUES (?, ?)", (spec.name, spec.partitions))
                self._partitions[spec.name] = spec.partitions
            elif row[0] != spec.partitions:
                # Re-partitioning would move keys between partitions and break their order.
                raise ConfigError(
                    f"topic {spec.name} has {row[0]} partitions in {self.path}, settings ask for "
                    f"{spec.partitions}; the embedded bus cannot re-partition a topic in place"
                )
            else:
                self._partitions[spec.name] = row[0]

    def _topic_partitions(self, topic: str) -> int:
        """Partitions of a topic; one never declared gets the default (retry, dead-letter)."""
        assert self._wconn is not None
        parts = self._partitions.get(topic)
        if parts is None:
            row = self._wconn.execute("SELECT partitions FROM topics WHERE name = ?", (topic,)).fetchone()
            if row is None:
                self._wconn.execute("INSERT INTO topics VALUES (?, ?)", (topic, self.default_partitions))
                parts = self.default_partitions
            else:
                parts = int(row[0])
            self._partitions[topic] = parts
        return parts

    # -- writing ------------------------------------------------------------------------------

    async def publish(
        self, topic: str, value: bytes, *, key: str, headers: Mapping[str, str] | None = None
    ) -> None:
        await self.publish_many([Outgoing(topic, value, key, dict(headers or {}))])

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        if messages:
            await self._submit(list(messages), None)

    async def _submit(
        self,
        publishes: list[Outgoing],
        commit: tuple[str, str, int, int] | None,
        owner: str | None = None,
    ) -> None:
        if not self._started:
            raise RuntimeError("the bus is not started")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Op(publishes, commit, fut, owner))
        await fut

    async def _writer_loop(self) -> None:
        while True:
            ops = [await self._queue.get()]
            while not self._queue.empty() and len(ops) < 500:
                ops.append(self._queue.get_nowait())
            touched: set[tuple[str, int]] = set()
            try:
                touched = await self._on_writer(self._apply, ops)
                results: list[BaseException | None] = [None] * len(ops)
            except Exception:
                # One bad operation must not fail the others that shared its transaction.
                results = []
                for op in ops:
                    try:
                        touched |= await self._on_writer(self._apply, [op])
                        results.append(None)
                    except Exception as e:
                        results.append(e)
            for op, err in zip(ops, results, strict=True):
                if op.future.done():
                    continue
                if err is None:
                    op.future.set_result(None)
                else:
                    op.future.set_exception(_wrap_sqlite(err))
            for tp in touched:
                self._notify(tp)
            if time.monotonic() - self._last_cleanup > 300:
                self._last_cleanup = time.monotonic()
                with contextlib.suppress(Exception):
                    await self._on_writer(self._cleanup)

    def _apply(self, ops: list[_Op]) -> set[tuple[str, int]]:
        """Apply in one transaction; returns the (topic, partition)s written to."""
        conn = self._wconn
        assert conn is not None
        touched: set[tuple[str, int]] = set()
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            for op in ops:
                if op.owner is not None and op.commit is not None:
                    held = conn.execute("SELECT owner FROM members WHERE grp = ?", (op.commit[0],)).fetchone()
                    if held is None or held[0] != op.owner:
                        # Another consumer took the group over (this one stalled past the lease):
                        # its offsets are the truth now, and this commit (and its retry publish)
                        # must not move them.
                        raise LeaseLost(f"group {op.commit[0]} is held by {held[0] if held else 'nobody'}")
                rows = [
                    (
                        m.topic,
                        partition_for(m.key, self._topic_partitions(m.topic)),
                        m.key,
                        m.value,
                        json.dumps(dict(m.headers), ensure_ascii=False),
                        now,
                    )
                    for m in op.publishes
                ]
                conn.executemany(
                    "INSERT INTO messages (topic, partition, key, value, headers, ts) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                touched.update((r[0], r[1]) for r in rows)
                if op.commit is not None:
                    conn.execute(
                        "INSERT INTO commits (grp, topic, partition, seq) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (grp, topic, partition) DO UPDATE SET seq = max(seq, excluded.seq)",
                        op.commit,
                    )
            conn.execute("COMMIT")
        except BaseException:
            # SQLite rolls back by itself on some errors (a full disk); then there is nothing
            # left to roll back, and the original error is the one to report.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return touched

    def _cleanup(self) -> None:
        assert self._wconn is not None
        self._wconn.execute("DELETE FROM messages WHERE ts < ?", (time.time() - self.retention_s,))

    def _notify(self, tp: tuple[str, int]) -> None:
        event = self._wake.pop(tp, None)
        if event is not None:
            event.set()

    def _wake_event(self, topic: str, partition: int) -> asyncio.Event:
        """The event the next write to this partition sets; take it before looking for records."""
        event = self._wake.get((topic, partition))
        if event is None:
            event = self._wake[(topic, partition)] = asyncio.Event()
        return event

    def _max_seq(self) -> int:
        assert self._rconn is not None
        return int(self._rconn.execute("SELECT COALESCE(MAX(seq), 0) FROM messages").fetchone()[0])

    def _grown_since(self, seq: int) -> list[tuple[str, int, int]]:
        assert self._rconn is not None
        return self._rconn.execute(
            "SELECT topic, partition, MAX(seq) FROM messages WHERE seq > ? GROUP BY topic, partition", (seq,)
        ).fetchall()

    async def _watch(self) -> None:
        """Wake the partitions that another process wrote to (one query per interval)."""
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                grown = await self._on_reader(self._grown_since, self._seen_seq)
            except Exception as e:
                log.warning("bus_watch_failed", error=str(e))
                continue
            for topic, partition, seq in grown:
                self._seen_seq = max(self._seen_seq, seq)
                self._notify((topic, partition))

    # -- reading ------------------------------------------------------------------------------

    async def fetch(self, topic: str, partition: int, after: int, limit: int = 100) -> list[Record]:
        rows = await self._on_reader(self._fetch_sync, topic, partition, after, limit)
        return [
            Record(topic, partition, seq, key, value, json.loads(headers), ts)
            for seq, key, value, headers, ts in rows
        ]

    def _fetch_sync(self, topic: str, partition: int, after: int, limit: int) -> list[tuple[Any, ...]]:
        assert self._rconn is not None
        return self._rconn.execute(
            "SELECT seq, key, value, headers, ts FROM messages "
            "WHERE topic = ? AND partition = ? AND seq > ? ORDER BY seq LIMIT ?",
            (topic, partition, after, limit),
        ).fetchall()

    async def partitions_of(self, topic: str) -> int:
        return int(await self._on_writer(self._topic_partitions, topic))

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        rows = await self._on_reader(
            lambda: self._rconn.execute(  # type: ignore[union-attr]
                "SELECT partition, seq FROM commits WHERE grp = ? AND topic = ?", (group, topic)
            ).fetchall()
        )
        return {int(p): int(s) for p, s in rows}

    async def commit(
        self, group: str, record: Record, publishes: Sequence[Outgoing] = (), *, owner: str | None = None
    ) -> None:
        """Commit `record` (with its publishes); with `owner`, only while that owner holds the group
        (else LeaseLost and nothing is written)."""
        await self._submit(list(publishes), (group, record.topic, record.partition, record.offset), owner)

    async def count_after(self, topic: str, partition: int, after: int) -> int:
        row = await self._on_reader(
            lambda: self._rconn.execute(  # type: ignore[union-attr]
                "SELECT COUNT(*) FROM messages WHERE topic = ? AND partition = ? AND seq > ?",
                (topic, partition, after),
            ).fetchone()
        )
        return int(row[0])

    async def lag(self, group: str, topics: Sequence[str]) -> dict[str, int]:
        """Messages stored but not yet committed by `group`, per topic."""
        out: dict[str, int] = {}
        for topic in topics:
            committed = await self.committed(group, topic)
            total = 0
            for p in range(await self.partitions_of(topic)):
                total += await self.count_after(topic, p, committed.get(p, 0))
            out[topic] = total
        return out

    async def messages(self, topic: str) -> list[Record]:
        """Every stored message of a topic in log order (tests, dead-letter inspection)."""
        parts = await self.partitions_of(topic)
        out: list[Record] = []
        for p in range(parts):
            out.extend(await self.fetch(topic, p, 0, limit=1_000_000))
        return sorted(out, key=lambda r: r.offset)

    # -- membership ---------------------------------------------------------------------------

    async def acquire_group(self, group: str, owner: str) -> bool:
        return bool(await self._on_writer(self._acquire_sync, group, owner))

    def _acquire_sync(self, group: str, owner: str) -> bool:
        conn = self._wconn
        assert conn is not None
        host = socket.gethostname()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT owner, pid, host, heartbeat FROM members WHERE grp = ?", (group,)
            ).fetchone()
            if row is not None and row[0] != owner and _holder_alive(row[1], row[2], row[3], host, row[0]):
                conn.execute("ROLLBACK")
                return False
            conn.execute(
                "INSERT INTO members VALUES (?, ?, ?, ?, ?) ON CONFLICT (grp) DO UPDATE SET "
                "owner = excluded.owner, pid = excluded.pid, host = excluded.host, heartbeat = excluded.heartbeat",
                (group, owner, os.getpid(), host, time.time()),
            )
            conn.execute("COMMIT")
            return True
        except BaseException:
            # SQLite rolls back by itself on some errors (a full disk); then there is nothing
            # left to roll back, and the original error is the one to report.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def renew_group(self, group: str, owner: str) -> bool:
        """Refresh the lease's heartbeat; False when `owner` no longer holds it."""

        def _renew() -> bool:
            assert self._wconn is not None
            cur = self._wconn.execute(
                "UPDATE members SET heartbeat = ? WHERE grp = ? AND owner = ?", (time.time(), group, owner)
            )
            return cur.rowcount == 1

        return bool(await self._on_writer(_renew))

    async def release_group(self, group: str, owner: str) -> None:
        def _release() -> None:
            assert self._wconn is not None
            self._wconn.execute("DELETE FROM members WHERE grp = ? AND owner = ?", (group, owner))

        await self._on_writer(_release)

    def consumer(
        self, group: str, topics: Sequence[str], *, retry_tiers: Sequence[float]
    ) -> EmbeddedConsumer:
        return EmbeddedConsumer(self, group, list(topics), list(retry_tiers))


_LIVE_OWNERS: set[str] = set()


def _holder_alive(pid: int, host: str, heartbeat: float, my_host: str, owner: str) -> bool:
    if time.time() - heartbeat > LEASE_STALE_S:
        return False
    if host != my_host:
        return True
    if pid == os.getpid():
        return owner in _LIVE_OWNERS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wrap_sqlite(err: BaseException) -> BaseException:
    if isinstance(err, sqlite3.OperationalError):
        text = str(err)
        if "disk is full" in text or "database or disk is full" in text:
            return TransientError(f"embedded bus: the disk is full ({text}); nothing was written")
        return TransientError(f"embedded bus: {text}")
    return err


class EmbeddedConsumer:
    def __init__(self, bus: EmbeddedBus, group: str, topics: list[str], retry_tiers: list[float]) -> None:
        self.bus = bus
        self.group = group
        self.topics = topics
        self.retry_tiers = retry_tiers or [1.0]
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._owner = f"{os.getpid()}:{id(self)}"
        self._renewed = time.monotonic()

    def _all_topics(self) -> list[str]:
        return self.topics + tier_topics(self.group, self.retry_tiers)

    async def run(self, handler: Handler) -> None:
        _LIVE_OWNERS.add(self._owner)
        try:
            while True:
                while not await self.bus.acquire_group(self.group, self._owner):
                    log.warning("group_held_elsewhere", group=self.group, path=str(self.bus.path))
                    if await self._sleep(1.0):
                        return
                self._renewed = time.monotonic()
                if not await self._consume(handler):
                    return
                # The lease went to another consumer while this one stalled: it reads from the
                # group's committed offsets now. Stop, and stand by to take the group again.
                log.error("group_lease_lost", group=self.group, path=str(self.bus.path))
        finally:
            _LIVE_OWNERS.discard(self._owner)

    async def _consume(self, handler: Handler) -> bool:
        """Consume while holding the lease; True when the lease was lost, False when stopped."""
        tasks: list[asyncio.Task[Any]] = [
            asyncio.create_task(self._heartbeat(), name=f"heartbeat:{self.group}")
        ]
        for topic in self._all_topics():
            committed = await self.bus.committed(self.group, topic)
            for p in range(await self.bus.partitions_of(topic)):
                tasks.append(
                    asyncio.create_task(
                        self._partition_loop(handler, topic, p, committed.get(p, 0)),
                        name=f"consume:{self.group}:{topic}:{p}",
                    )
                )
        self._ready.set()
        stopping: asyncio.Task[Any] = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # Cancelled from outside: stop at once, like a crash; nothing more is committed.
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            stopping.cancel()
        failed = [t for t in done if t is not stopping and t.exception() is not None]
        if tasks[0] in done or any(isinstance(t.exception(), LeaseLost) for t in failed):
            # Like a crash: the new holder redoes what was not committed (at least once).
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return True
        self._stop.set()
        tasks[0].cancel()
        # Partition loops finish the record in hand (and commit it) before they return.
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.bus.release_group(self.group, self._owner)
        for t in failed:
            raise t.exception()  # type: ignore[misc]
        return False

    async def stop(self) -> None:
        self._stop.set()

    async def ready(self) -> None:
        await self._ready.wait()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped first; True when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        return self._stop.is_set()

    async def _heartbeat(self) -> None:
        """Renew the lease; return when another consumer holds it (the caller stops consuming)."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            if not await self._renew():
                return

    async def _renew(self) -> bool:
        try:
            held = await self.bus.renew_group(self.group, self._owner)
        except Exception as e:  # a busy or full disk: the lease is still ours until it is stale
            log.warning("group_renew_failed", group=self.group, error=str(e))
            return True
        if held:
            self._renewed = time.monotonic()
        return held

    async def _check_lease(self) -> None:
        """Before a record: after a stall past the lease's life, make sure the lease is still ours."""
        if time.monotonic() - self._renewed > LEASE_STALE_S and not await self._renew():
            raise LeaseLost(f"group {self.group} was taken over while this consumer stalled")

    async def _partition_loop(self, handler: Handler, topic: str, partition: int, position: int) -> None:
        retry = is_retry_topic(topic)
        while not self._stop.is_set():
            wake = self.bus._wake_event(topic, partition)
            try:
                records = await self.bus.fetch(topic, partition, position)
            except Exception as e:
                log.error("bus_fetch_failed", topic=topic, partition=partition, error=str(e))
                if await self._sleep(1.0):
                    return
                continue
            if not records:
                stop_wait = asyncio.ensure_future(self._stop.wait())
                wake_wait = asyncio.ensure_future(wake.wait())
                await asyncio.wait({stop_wait, wake_wait}, return_when=asyncio.FIRST_COMPLETED)
                stop_wait.cancel()
                wake_wait.cancel()
                continue
            for record in records:
                if self._stop.is_set():
                    return
                if retry:
                    # Tier topics have one delay each, so the head is always the first due.
                    due = not_before(record.headers) - time.time()
                    if due > 0 and await self._sleep(due):
                        return
                await self._check_lease()
                await self._handle(handler, record)
                position = record.offset

    async def _handle(self, handler: Handler, record: Record) -> None:
        try:
            outcome: Outcome = await handler(record)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug in a stage: retry a few times, then dead-letter
            log.exception("handler_crashed", group=self.group, topic=record.topic, offset=record.offset)
            reason = f"unexpected {type(e).__name__}: {e}"
            if record.attempt >= MAX_UNEXPECTED_ATTEMPTS:
                outcome = DeadLetter(reason)
            else:
                outcome = Retry(min(2.0**record.attempt, 60.0), reason)
        publishes: list[Outgoing] = []
        if isinstance(outcome, Retry):
            publishes.append(
                retry_message(record, self.group, outcome.delay, outcome.reason, self.retry_tiers)
            )
        elif isinstance(outcome, DeadLetter):
            publishes.append(dead_letter_message(record, self.group, outcome.reason))
        else:
            assert isinstance(outcome, Ack)
        while True:
            try:
                await self.bus.commit(self.group, record, publishes, owner=self._owner)
                return
            except TransientError as e:
                # The work is done; the commit must follow or the record comes back after a
                # restart. Keep trying: the disk may have filled, and will be freed.
                log.error("bus_commit_failed", group=self.group, error=str(e))
                await asyncio.sleep(1.0)
