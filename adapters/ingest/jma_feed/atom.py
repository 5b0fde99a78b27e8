"""Reading one JMA Atom feed document (feedparser) into the entries the poller acts on."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from broadcaster.errors import TransientError


class GarbledFeed(TransientError):
    """Not a well-formed Atom feed (cut short, garbage, an error page): JMA may fix it next minute."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    id: str
    # The telegram's address; None when the entry names none the poller may fetch.
    url: str | None
    title: str
    updated: datetime | None
    # Position in the document (JMA lists the newest first).
    position: int


def _updated(entry: Any) -> datetime | None:
    parsed: time.struct_time | None = entry.get("updated_parsed")
    if parsed is None:
        return None
    return datetime(*parsed[:6], tzinfo=UTC)


def _url(entry: Any, base: str) -> str | None:
    href = entry.get("link")
    for link in entry.get("links") or ():
        # JMA marks the telegram link type="application/xml"; prefer it if there are several.
        if link.get("type") == "application/xml" and link.get("href"):
            href = link["href"]
            break
    if not href:
        return None
    url = urljoin(base, str(href))
    # Only the web: an entry naming file:// or another scheme is not a JMA telegram.
    return url if urlsplit(url).scheme in ("http", "https") else None


def parse_feed(data: bytes, base_url: str) -> tuple[list[FeedEntry], int]:
    """The entries of a well-formed Atom feed, and how many had neither id nor link.

    Anything but a well-formed Atom feed is GarbledFeed: nothing is half-read.
    """
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    error = parsed.get("bozo_exception")
    # feedparser reads broken XML leniently; a feed cut short would yield its first entries and
    # hide the rest, so any well-formedness error refuses the whole document.
    if parsed.get("bozo") and not isinstance(error, feedparser.CharacterEncodingOverride):
        raise GarbledFeed(f"{type(error).__name__}: {error}")
    if not str(parsed.get("version", "")).startswith("atom"):
        raise GarbledFeed(f"not an Atom feed (format {parsed.get('version') or 'unknown'!r})")
    entries: list[FeedEntry] = []
    nameless = 0
    for position, entry in enumerate(parsed.get("entries") or ()):
        url = _url(entry, base_url)
        entry_id = str(entry.get("id") or url or "")
        if not entry_id:
            nameless += 1
            continue
        entries.append(FeedEntry(entry_id, url, str(entry.get("title") or ""), _updated(entry), position))
    return entries, nameless
