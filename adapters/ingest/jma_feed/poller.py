"""The JMA feed poller: each new telegram fetched once, ever, and handed on as a RawEvent.

One round polls every high-frequency feed (regular, extra, eqvol, other) at once. Per feed: a
conditional GET (a 304 costs JMA nothing), the entries not seen before and not too old, their
telegrams fetched a few at a time and handed to the sink oldest first, each marked seen only
after the sink returned (it is durable then). What fails is not marked: an entry whose telegram
could not be fetched is fetched on the next poll, because the feed's validators are kept only
from a read whose every entry went through (else a 304 would hide the entry for good).

The long feeds (regular_l.xml, ...) hold days of entries; they are read at start-up and after a
feed failed, to catch up on what the high-frequency feed has dropped meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from adapters.ingest.jma_feed.atom import FeedEntry, parse_feed
from adapters.ingest.jma_feed.client import BodyTooLarge, FeedClient
from adapters.ingest.jma_feed.protocols import FeedStateStore, RawSink
from broadcaster.errors import BroadcasterError, ParseError
from broadcaster.logging import get_logger
from broadcaster.model import RawEvent, now
from broadcaster.settings import FeedSourceSettings
from broadcaster.xmlsafe import parse_xml

log = get_logger(__name__)

DEFAULT_BASE_URL = "https://www.data.jma.go.jp/developer/xml/feed/"
HIGH_FREQUENCY_FEEDS = ("regular", "extra", "eqvol", "other")
# Telegrams fetched at once: a burst (an earthquake brings dozens) goes out quickly without
# opening dozens of connections to JMA; also bounds the bodies held in memory.
FETCH_BATCH = 8
FETCH_CONCURRENCY = 4
# At a feed's very first poll only what it lists from the last few minutes is news; a new
# installation must not broadcast the hours of warnings the feeds still hold (lifted since).
FIRST_POLL_WINDOW = timedelta(minutes=10)
# A telegram that is not well-formed XML may be a transfer cut short: fetched again on the next
# polls; after this many tries it is handed on anyway, so that the quarantine shows it.
MALFORMED_TRIES = 3
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PollResult:
    document: str  # "eqvol", or "eqvol_l" for a long feed
    ok: bool
    not_modified: bool = False
    handed_on: int = 0
    failed: int = 0  # entries left for the next poll
    refused: int = 0  # entries too large, never fetched again
    error: str | None = None
    # The feed document itself failed (unreachable, garbled): entries may be missed meanwhile.
    document_failed: bool = False


def first_fire(at: datetime, offset_s: float, interval_s: float = 60.0) -> datetime:
    """The first poll after `at` on the grid of `interval_s` through second `offset_s` of the minute.

    With JMA's once a minute from second 20, that is the next hh:mm:20.
    """
    anchor = at.replace(second=0, microsecond=0) + timedelta(seconds=offset_s)
    steps = math.floor((at - anchor).total_seconds() / interval_s) + 1
    return anchor + timedelta(seconds=steps * interval_s)


class JmaFeedPoller:
    source = "jma"
    label = "気象庁防災情報XML"
    default_feeds = HIGH_FREQUENCY_FEEDS

    def __init__(
        self,
        config: FeedSourceSettings,
        *,
        sink: RawSink,
        store: FeedStateStore,
        clock: Callable[[], datetime] = now,
    ) -> None:
        base = config.base_url or DEFAULT_BASE_URL
        self.base_url = base if base.endswith("/") else base + "/"
        self.feeds: tuple[str, ...] = tuple(config.feeds or self.default_feeds)
        self.config = config
        self.sink = sink
        self.store = store
        self._clock = clock
        self._client = FeedClient(timeout_s=config.timeout_s)
        self._max_age = timedelta(hours=config.max_entry_age_h)
        self._needs_catch_up: set[str] = set(self.feeds) if config.catch_up else set()
        self._malformed: dict[str, int] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._round: asyncio.Task[None] | None = None

    def url_of(self, document: str) -> str:
        return urljoin(self.base_url, f"{document}.xml")

    # -- one round ----------------------------------------------------------------------------

    async def poll_round(self) -> list[PollResult]:
        per_feed = await asyncio.gather(*(self._poll_feed(f) for f in self.feeds))
        return [r for results in per_feed for r in results]

    async def _poll_feed(self, feed: str) -> list[PollResult]:
        results: list[PollResult] = []
        if feed in self._needs_catch_up:
            # The long feed first: its entries are the older ones.
            long = await self.poll_document(f"{feed}_l")
            results.append(long)
            if long.ok:
                self._needs_catch_up.discard(feed)
        short = await self.poll_document(feed)
        results.append(short)
        if short.document_failed and self.config.catch_up:
            self._needs_catch_up.add(feed)
        return results

    async def poll_document(self, document: str) -> PollResult:
        at = self._clock()
        url = self.url_of(document)
        etag, modified = await self.store.validators(document)
        try:
            got = await self._client.get(url, limit=self.config.max_feed_bytes, etag=etag, last_modified=modified)
            if got.status == 304:
                await self.store.record_success(document, at, etag=etag, last_modified=modified)
                return PollResult(document, ok=True, not_modified=True)
            # feedparser is pure Python: a long feed of several MB would stall the event loop.
            entries, nameless = await asyncio.to_thread(parse_feed, got.body, url)
        except BroadcasterError as e:
            log.warning("jma_feed_poll_failed", feed=document, url=url, error=str(e)[:300])
            await self.store.record_failure(document, at, str(e))
            return PollResult(document, ok=False, error=str(e), document_failed=True)
        if nameless:
            log.warning("jma_feed_entries_unnamed", feed=document, count=nameless)
        first = await self.store.first_polled(document) or at
        result = await self._hand_on(document, entries, max(at - self._max_age, first - FIRST_POLL_WINDOW))
        if result.failed:
            await self.store.record_failure(document, at, result.error or "entries not fetched")
        else:
            await self.store.record_success(document, at, etag=got.etag, last_modified=got.last_modified)
        return result

    def _wanted(self, document: str, entries: Sequence[FeedEntry], cutoff: datetime) -> list[FeedEntry]:
        out: dict[str, FeedEntry] = {}
        for e in entries:
            if e.url is None:
                log.warning("jma_feed_entry_without_link", feed=document, entry=e.id[:300])
            elif e.updated is not None and e.updated < cutoff:
                continue  # older than a catch-up should replay, or than this installation
            else:
                out.setdefault(e.id, e)
        return list(out.values())

    async def _hand_on(self, document: str, entries: Sequence[FeedEntry], cutoff: datetime) -> PollResult:
        wanted = self._wanted(document, entries, cutoff)
        seen = await self.store.seen([e.id for e in wanted])
        new = sorted((e for e in wanted if e.id not in seen), key=lambda e: (e.updated or _FAR_FUTURE, -e.position))
        handed = failed = refused = 0
        errors: list[str] = []
        gate = asyncio.Semaphore(FETCH_CONCURRENCY)
        for start in range(0, len(new), FETCH_BATCH):
            batch = new[start : start + FETCH_BATCH]
            bodies = await asyncio.gather(*(self._fetch(e, gate) for e in batch))
            for i, (entry, got) in enumerate(zip(batch, bodies, strict=True)):
                if isinstance(got, BodyTooLarge):
                    log.error("jma_telegram_refused_too_large", feed=document, entry=entry.id, error=str(got))
                    await self.store.mark_seen(document, entry.id, at=self._clock(), url=entry.url, refused=True)
                    refused += 1
                    continue
                if isinstance(got, Exception):
                    log.warning("jma_telegram_fetch_failed", feed=document, entry=entry.id, error=str(got)[:300])
                    errors.append(str(got)[:300])
                    failed += 1
                    continue
                raw = RawEvent(
                    source=self.source,
                    received=self._clock(),
                    content_type="application/xml",
                    body=got,
                    submitted_by=f"feed:{self.source}:{document}",
                    source_ref=entry.id,
                )
                try:
                    await self.sink.submit(raw)
                except Exception as e:  # the bus is down: stop here, the rest waits for the next poll
                    log.error("jma_feed_hand_on_failed", feed=document, entry=entry.id, error=str(e)[:300])
                    errors.append(f"hand-on failed: {e}"[:300])
                    failed += len(new) - start - i
                    return self._result(document, handed, failed, refused, errors)
                await self.store.mark_seen(document, entry.id, at=self._clock(), url=entry.url, raw_event_id=raw.id)
                self._malformed.pop(entry.id, None)
                handed += 1
        if handed or failed or refused:
            log.info("jma_feed_polled", feed=document, handed_on=handed, failed=failed, refused=refused)
        return self._result(document, handed, failed, refused, errors)

    @staticmethod
    def _result(document: str, handed: int, failed: int, refused: int, errors: list[str]) -> PollResult:
        error = f"{failed} entries not fetched, retried next poll: {errors[0]}" if failed and errors else None
        return PollResult(document, ok=not failed, handed_on=handed, failed=failed, refused=refused, error=error)

    async def _fetch(self, entry: FeedEntry, gate: asyncio.Semaphore) -> bytes | Exception:
        assert entry.url is not None
        async with gate:
            try:
                got = await self._client.get(entry.url, limit=self.config.max_body_bytes)
            except BroadcasterError as e:
                return e
        try:
            parse_xml(got.body, max_bytes=self.config.max_body_bytes)
        except ParseError as e:
            # Cut short, or garbage: try again later; in the end let the pipeline quarantine it.
            if e.reason in ("malformed_xml", "empty"):
                tries = self._malformed[entry.id] = self._malformed.get(entry.id, 0) + 1
                if tries < MALFORMED_TRIES:
                    return e
        return got.body

    # -- the schedule -------------------------------------------------------------------------

    async def start(self) -> None:
        """Catch up now, then poll every interval from second `poll_offset_s` of the minute."""
        interval = self.config.poll_interval_s
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._tick,
            IntervalTrigger(
                seconds=interval, start_date=first_fire(datetime.now(UTC), self.config.poll_offset_s, interval), timezone=UTC
            ),
            id=f"poll:{self.source}",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(interval)),
        )
        scheduler.start()
        self._scheduler = scheduler
        self._round = asyncio.create_task(self._run_round(), name=f"poll:{self.source}")
        log.info("jma_feed_poller_started", base_url=self.base_url, feeds=list(self.feeds), interval_s=interval)

    async def _tick(self) -> None:
        if self._round is not None and not self._round.done():
            log.warning("jma_feed_round_overrun", interval_s=self.config.poll_interval_s)
            return
        self._round = asyncio.create_task(self._run_round(), name=f"poll:{self.source}")

    async def _run_round(self) -> None:
        try:
            await self.poll_round()
        except Exception as e:  # the ledger is unreachable: the next round tries again
            log.error("jma_feed_round_failed", error=str(e)[:300])

    async def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None
        if self._round is not None and not self._round.done():
            # A round ends by itself within the timeouts; a cut one only costs a re-fetch.
            try:
                await asyncio.wait_for(asyncio.shield(self._round), timeout=self.config.timeout_s)
            except TimeoutError:
                self._round.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._round
        await self._client.close()
