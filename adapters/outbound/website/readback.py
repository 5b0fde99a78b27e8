"""What the published site shows of one event, read back from the files a reader gets.

The consistency guard (docs/consistency.md) asks this of the current release: the message's own
page (its JSON, which carries the whole alert), the list the residents' app reads
(`api/alerts.json`), the banner (`banner.json`) and the CAP feed (`cap.atom`, each entry's CAP
parsed as an aggregator would). Only files a reader can fetch are read, never `.state.json`: the
point is to see what the public sees.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from broadcaster.cap.read import from_cap
from broadcaster.channels import Carried
from broadcaster.consistency.facts import facts_of
from broadcaster.errors import ParseError
from broadcaster.model import Alert
from broadcaster.site_layout import slug
from broadcaster.xmlsafe import parse_xml

ATOM = "{http://www.w3.org/2005/Atom}"
_LIST_FACTS = {"status": "status", "msg_type": "msg_type", "kind": "kind"}


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _page(release: Path, event_ids: Sequence[str]) -> Carried:
    """The newest of the event's pages the site has: what a reader following a link sees."""
    for identifier in reversed(event_ids):
        path = release / "alerts" / f"{slug(identifier)}.json"
        data = _json(path)
        if not isinstance(data, dict) or not isinstance(data.get("alert"), dict):
            continue
        try:
            alert = Alert.model_validate(data["alert"])
        except ValueError:
            return Carried(
                surface="website", alert_id=identifier, where=str(path), facts={"status": "unreadable"}
            )
        return Carried(surface="website", alert_id=alert.identifier, facts=facts_of(alert), where=str(path))
    return Carried(surface="website", where=str(release / "alerts"))


def _listed(release: Path, rel: str, surface: str, event_ids: Sequence[str]) -> Carried:
    path = release / rel
    data = _json(path)
    items = data.get("alerts") if isinstance(data, dict) else None
    mine = {str(i.get("id")): i for i in items or () if isinstance(i, dict) and i.get("id") in event_ids}
    for identifier in reversed(event_ids):
        item = mine.get(identifier)
        if item is not None:
            facts = {name: str(item[key]) for name, key in _LIST_FACTS.items() if item.get(key) is not None}
            return Carried(surface=surface, alert_id=identifier, listed=True, facts=facts, where=str(path))
    return Carried(surface=surface, listed=False, where=str(path))


# The CAP feed's messages by identifier, per version of the file (its inode, mtime and size). The
# guard reads every recent event back each round, and each read parsed every CAP document of the
# feed: n events cost n × n parses a round, the largest single share of a burst's CPU
# (docs/benchmarks.md, *Hot path*). A release's files are written once and an unchanged one is
# hard-linked into the next release (publish.py): the same inode is the same feed.
_FEEDS: OrderedDict[tuple[int, int, int, int], dict[str, Alert]] = OrderedDict()
_FEEDS_KEPT = 8
_FEEDS_LOCK = threading.Lock()  # read_back runs on worker threads


def feed_alerts(path: Path) -> dict[str, Alert] | None:
    """Every CAP message of the feed at `path` by identifier (None when it cannot be read),
    parsed once per version of the file."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
    with _FEEDS_LOCK:
        cached = _FEEDS.get(key)
        if cached is not None:
            _FEEDS.move_to_end(key)
            return cached
    try:
        root = parse_xml(path.read_bytes())
    except (OSError, ParseError):
        return None
    found: dict[str, Alert] = {}
    for content in root.iter(f"{ATOM}content"):
        for cap in content:
            if not isinstance(cap.tag, str):
                continue
            try:
                alert = from_cap(etree.fromstring(etree.tostring(cap)))
            except (ParseError, etree.XMLSyntaxError):
                continue
            found[alert.identifier] = alert
    with _FEEDS_LOCK:
        _FEEDS[key] = found
        while len(_FEEDS) > _FEEDS_KEPT:
            _FEEDS.popitem(last=False)
    return found


def _cap_feed(release: Path, event_ids: Sequence[str]) -> Carried:
    path = release / "cap.atom"
    feed = feed_alerts(path)
    if feed is None:
        return Carried(surface="cap_feed", listed=False, where=str(path))
    found = {i: feed[i] for i in event_ids if i in feed}
    for identifier in reversed(event_ids):
        if identifier in found:
            alert = found[identifier]
            return Carried(
                surface="cap_feed", alert_id=identifier, listed=True, facts=facts_of(alert), where=str(path)
            )
    return Carried(surface="cap_feed", listed=False, where=str(path))


def read_back(release: Path | None, event_ids: Sequence[str]) -> list[Carried]:
    """Each surface of the site, as published in `release` (None: nothing published yet)."""
    if release is None:
        return [
            Carried(surface="website"),
            Carried(surface="app_api", listed=False),
            Carried(surface="banner", listed=False),
            Carried(surface="cap_feed", listed=False),
        ]
    return [
        _page(release, event_ids),
        _listed(release, "api/alerts.json", "app_api", event_ids),
        _listed(release, "banner.json", "banner", event_ids),
        _cap_feed(release, event_ids),
    ]
