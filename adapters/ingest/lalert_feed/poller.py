"""The L-Alert poller: one feed URL per source, each document revision handed on once, ever.

A poll is a conditional GET of the feed (a 304 costs nothing). The documents it lists that were
not handed on before are fetched (or taken inline), oldest first, and each is handed to the sink,
which returns once the raw event is recorded and durable; only then is it marked as seen. The
dedupe key is the commons document id and revision ("doc:<id>#r<n>"), read from the document
itself, kept in the ledger's database (feed_entries) so that a restart hands nothing on twice;
a document that cannot be read is handed on once under its SHA-256, for the quarantine.

A failure stops the round where it happened, so that revision 2 never overtakes revision 1, and
the feed's validators are kept only from a round that went through whole (else a 304 would hide
the rest for good).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapters.ingest.jma_feed.protocols import FeedStateStore, RawSink
from adapters.ingest.lalert import parse_bytes
from adapters.ingest.lalert_feed.client import Client, TooLarge
from adapters.ingest.lalert_feed.listing import Listed, read_listing
from broadcaster.errors import BroadcasterError, ParseError
from broadcaster.logging import get_logger
from broadcaster.model import RawEvent, now
from broadcaster.settings import FeedSourceSettings

log = get_logger(__name__)

FEED = "feed"
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


def document_key(body: bytes) -> str:
    """"doc:<document id>#r<revision>" of every document in the body, or its hash if unreadable."""
    try:
        alerts = parse_bytes(body)
    except ParseError:
        alerts = []
    keys = sorted(
        {f"doc:{a.primary.param('lalert:documentId')}#r{a.primary.param('lalert:revision')}" for a in alerts if a.info}
    )
    return " ".join(keys) if keys else f"sha256:{hashlib.sha256(body).hexdigest()}"


@dataclass(frozen=True, slots=True)
class PollResult:
    ok: bool
    not_modified: bool = False
    handed_on: int = 0
    duplicates: int = 0
    error: str | None = None


class LAlertFeedPoller:
    source = "lalert"
    label = "Lアラート"
    default_feeds = (FEED,)

    def __init__(
        self,
        config: FeedSourceSettings,
        *,
        sink: RawSink,
        store: FeedStateStore,
        clock: Callable[[], datetime] = now,
    ) -> None:
        if not config.base_url:
            raise BroadcasterError("an L-Alert feed needs base_url: the URL of its feed or document list")
        self.url = config.base_url
        self.feeds: tuple[str, ...] = (FEED,)
        self.config = config
        self.tenant = config.tenant
        self.sink = sink
        self.store = store
        self._clock = clock
        token = config.credentials.get("token")
        self._client = Client(timeout_s=config.timeout_s, token=token.get_secret_value() if token else None)
        self._max_age = timedelta(hours=config.max_entry_age_h)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def poll_once(self) -> PollResult:
        at = self._clock()
        etag, modified = await self.store.validators(FEED)
        try:
            got = await self._client.get(self.url, limit=self.config.max_feed_bytes, etag=etag, last_modified=modified)
            if got.status == 304:
                await self.store.record_success(FEED, at, etag=etag, last_modified=modified)
                return PollResult(ok=True, not_modified=True)
            listed, skipped = read_listing(got.body, self.url)
        except BroadcasterError as e:
            log.warning("lalert_feed_poll_failed", url=self.url, error=str(e)[:300])
            await self.store.record_failure(FEED, at, str(e))
            return PollResult(ok=False, error=str(e))
        if skipped:
            log.warning("lalert_feed_entries_skipped", url=self.url, count=skipped, why="no link on the feed's own site")
        result = await self._hand_on(listed, at)
        if result.ok:
            await self.store.record_success(FEED, at, etag=got.etag, last_modified=got.last_modified)
        else:
            await self.store.record_failure(FEED, at, result.error or "documents not handed on")
        return result

    def _wanted(self, listed: Sequence[Listed], at: datetime) -> list[Listed]:
        cutoff = at - self._max_age
        fresh = [e for e in listed if e.updated is None or e.updated >= cutoff]
        # Oldest first; among equal times, listings are newest first, so the later position first.
        return sorted(fresh, key=lambda e: (e.updated or _FAR_FUTURE, -e.position))

    async def _hand_on(self, listed: Sequence[Listed], at: datetime) -> PollResult:
        wanted = self._wanted(listed, at)
        seen = await self.store.seen([e.key for e in wanted if e.key])
        handed = duplicates = 0
        for entry in wanted:
            if entry.key and entry.key in seen:
                continue
            try:
                body = entry.body if entry.body is not None else await self._fetch(entry)
            except TooLarge as e:
                log.error("lalert_document_refused_too_large", url=entry.url, error=str(e)[:300])
                await self.store.mark_seen(FEED, entry.key or f"url:{entry.url}", at=self._clock(), url=entry.url, refused=True)
                continue
            except BroadcasterError as e:
                return PollResult(ok=False, handed_on=handed, duplicates=duplicates, error=str(e)[:300])
            doc = document_key(body)
            if await self.store.seen([doc]):
                duplicates += 1
                if entry.key:
                    await self.store.mark_seen(FEED, entry.key, at=self._clock(), url=entry.url)
                continue
            raw = RawEvent(
                source="lalert",
                received=self._clock(),
                content_type="application/xml",
                body=body,
                tenant=self.tenant,
                submitted_by=f"feed:lalert:{self.store_name}",
                source_ref=entry.url or doc[:300],
            )
            try:
                await self.sink.submit(raw)
            except Exception as e:  # the ledger or bus is down: the rest waits for the next poll
                log.error("lalert_feed_hand_on_failed", document=doc, error=str(e)[:300])
                return PollResult(ok=False, handed_on=handed, duplicates=duplicates, error=f"hand-on failed: {e}"[:300])
            await self.store.mark_seen(FEED, doc, at=self._clock(), url=entry.url, raw_event_id=raw.id)
            if entry.key and entry.key != doc:
                await self.store.mark_seen(FEED, entry.key, at=self._clock(), url=entry.url, raw_event_id=raw.id)
            handed += 1
            log.info("lalert_document_handed_on", document=doc, raw=raw.id, tenant=self.tenant)
        return PollResult(ok=True, handed_on=handed, duplicates=duplicates)

    @property
    def store_name(self) -> str:
        return str(getattr(self.store, "source", self.source))

    async def _fetch(self, entry: Listed) -> bytes:
        assert entry.url is not None
        got = await self._client.get(entry.url, limit=self.config.max_body_bytes)
        return got.body

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self.poll_once()
            except Exception as e:  # the ledger is unreachable: the next poll tries again
                log.error("lalert_feed_round_failed", error=str(e)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.config.poll_interval_s)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="poll:lalert")
        log.info("lalert_feed_poller_started", url=self.url, tenant=self.tenant, interval_s=self.config.poll_interval_s)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=self.config.timeout_s)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self._client.close()
