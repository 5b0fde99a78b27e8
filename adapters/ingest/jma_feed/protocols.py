"""What the poller needs from its surroundings: somewhere to hand raw events, somewhere to remember."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from broadcaster.model import RawEvent


class RawSink(Protocol):
    async def submit(self, raw: RawEvent) -> None:
        """Returns once the event is durable; only then is the entry marked as seen."""


class FeedStateStore(Protocol):
    """Persistent poller state (broadcaster.store.feeds.FeedStore in the pipeline)."""

    async def seen(self, entry_ids: Sequence[str]) -> set[str]:
        """The ids among these that were handed on (or refused) before, by any feed."""

    async def mark_seen(
        self,
        feed: str,
        entry_id: str,
        *,
        at: datetime,
        url: str | None = None,
        raw_event_id: str | None = None,
        refused: bool = False,
    ) -> None: ...

    async def validators(self, feed: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) of the feed's last complete read."""

    async def record_success(
        self, feed: str, at: datetime, *, etag: str | None = None, last_modified: str | None = None
    ) -> None: ...

    async def record_failure(self, feed: str, at: datetime, error: str) -> None: ...

    async def first_polled(self, feed: str) -> datetime | None:
        """When this feed was first polled here (a success or not); None: never."""

    async def last_success(self, feed: str) -> datetime | None: ...
