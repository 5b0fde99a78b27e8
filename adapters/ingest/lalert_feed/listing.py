"""What an L-Alert feed URL may answer, read into the documents it lists.

The real L-Alert distribution interfaces are closed to the public, so the poller speaks to a
generic HTTP source that a relay, a prefecture's gateway or a vendor can put up (docs/lalert.md,
*The poller*). The answer may be

* an Atom feed: each entry links to a document (a link of an XML type preferred), or carries the
  EDXL-DE distribution (or its SOAP envelope) inline in its <content>;
* an RSS 2.0 feed: each item's enclosure or link;
* JSON: a list, or {"documents": [...]}, of URLs or objects {url | xml, documentID, revision, updated};
* one document itself (EDXL-DE or SOAP): the feed is "the latest document".

Newest first or oldest first does not matter: the poller sorts by time and hands on oldest first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from broadcaster.errors import ParseError, TransientError
from broadcaster.model import JST
from broadcaster.xmlsafe import parse_xml

ATOM = "http://www.w3.org/2005/Atom"
EDXL_DE = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
_DOCUMENT_ROOTS = ("EDXLDistribution", "Envelope")


class GarbledListing(TransientError):
    """Not a feed, list or document we can read (an error page, a cut transfer): try next poll."""


@dataclass(frozen=True, slots=True)
class Listed:
    # Dedupe key known before fetching: "doc:<id>#r<revision>" when the listing says so, else the
    # entry's id and time.
    key: str
    url: str | None
    body: bytes | None  # inline document
    updated: datetime | None
    position: int


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=JST)


def _same_site(url: str, base: str) -> str | None:
    """Absolute URL of a link, if it stays on the feed's own site (no reaching elsewhere)."""
    absolute = urljoin(base, url.strip())
    a, b = urlsplit(absolute), urlsplit(base)
    if a.scheme not in ("http", "https") or (a.scheme, a.netloc) != (b.scheme, b.netloc):
        return None
    return absolute


def _key(doc_id: Any, revision: Any, fallback: str) -> str:
    if doc_id and str(revision or "").strip().isdigit():
        return f"doc:{str(doc_id).strip()}#r{int(str(revision).strip())}"
    return fallback


def read_listing(body: bytes, base_url: str) -> tuple[list[Listed], int]:
    """The documents listed, and how many entries were left out (no link on the feed's site)."""
    if body.lstrip()[:1] in (b"{", b"["):
        return _json_listing(body, base_url)
    try:
        root = parse_xml(body)
    except ParseError as e:
        raise GarbledListing(f"{e.reason}: {e.detail}"[:300]) from e
    name = _local(root)
    if name in _DOCUMENT_ROOTS:
        return [Listed("", None, body, None, 0)], 0
    if name == "feed" and etree.QName(root).namespace == ATOM:
        return _atom(root, base_url)
    if name == "rss":
        return _rss(root, base_url)
    raise GarbledListing(f"not a feed, list or L-Alert document: root {name!r}")


def _atom(root: etree._Element, base: str) -> tuple[list[Listed], int]:
    out: list[Listed] = []
    skipped = 0
    for position, entry in enumerate(root.iterfind(f"{{{ATOM}}}entry")):
        entry_id = entry.findtext(f"{{{ATOM}}}id") or ""
        updated = _time(entry.findtext(f"{{{ATOM}}}updated") or entry.findtext(f"{{{ATOM}}}published"))
        inline = _inline(entry.find(f"{{{ATOM}}}content"))
        url = None
        if inline is None:
            links = [
                link for link in entry.iterfind(f"{{{ATOM}}}link")
                if link.get("href") and link.get("rel", "alternate") in ("alternate", "enclosure")
            ]  # fmt: skip
            links.sort(key=lambda link: "xml" not in (link.get("type") or ""))
            url = next((u for link in links if (u := _same_site(link.get("href", ""), base))), None)
            if url is None:
                skipped += 1
                continue
        fallback = f"entry:{entry_id or url or position}|{updated.isoformat() if updated else ''}"
        out.append(Listed(fallback, url, inline, updated, position))
    return out, skipped


def _inline(content: etree._Element | None) -> bytes | None:
    if content is None:
        return None
    for child in content:
        if isinstance(child.tag, str) and _local(child) in _DOCUMENT_ROOTS:
            return etree.tostring(child, encoding="utf-8", xml_declaration=True)
    return None


def _rss(root: etree._Element, base: str) -> tuple[list[Listed], int]:
    out: list[Listed] = []
    skipped = 0
    for position, item in enumerate(root.iterfind("channel/item")):
        guid = item.findtext("guid") or ""
        updated = _time(item.findtext("pubDate"))
        enclosure = item.find("enclosure")
        href = enclosure.get("url") if enclosure is not None else None
        url = _same_site(href or item.findtext("link") or "", base) if (href or item.findtext("link")) else None
        if url is None:
            skipped += 1
            continue
        out.append(Listed(f"entry:{guid or url}|{updated.isoformat() if updated else ''}", url, None, updated, position))
    return out, skipped


def _json_listing(body: bytes, base: str) -> tuple[list[Listed], int]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as e:  # bad UTF-8 or JSON, huge numbers, deep nesting
        raise GarbledListing(f"malformed JSON: {e}"[:300]) from e
    items = data.get("documents") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise GarbledListing("JSON listing without a documents list")
    out: list[Listed] = []
    skipped = 0
    for position, item in enumerate(items):
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict):
            skipped += 1
            continue
        doc_id = item.get("documentID") or item.get("document_id") or item.get("id")
        revision = item.get("revision") or item.get("documentRevision")
        updated = _time(str(item.get("updated") or "")) if item.get("updated") else None
        xml = item.get("xml")
        url = _same_site(str(item["url"]), base) if item.get("url") else None
        if xml is None and url is None:
            skipped += 1
            continue
        fallback = f"entry:{url or doc_id or position}|{updated.isoformat() if updated else ''}"
        inline = str(xml).encode("utf-8") if xml is not None else None
        out.append(Listed(_key(doc_id, revision, fallback), url, inline, updated, position))
    return out, skipped
