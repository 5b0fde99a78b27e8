"""The site's two Atom feeds (RFC 4287): one of pages for readers, one of CAP 1.2 documents.

The CAP feed follows the OASIS "Example Practices: CAP Feeds" note: one entry per alert, the CAP
document inline (``<content type="application/cap+xml">``, which RFC 4287 carries as XML) and
linked (``rel="alternate"`` to the ``.xml`` file), so that aggregators can take either. It lists
what is in force: the newest message of each event that is current, and cancels and all-clears so
that a consumer learns the event is over. Built with lxml, so every text is escaped. Pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from lxml import etree

from adapters.outbound.website.state import Entry, View
from adapters.outbound.website.views import Card
from broadcaster.site_layout import slug
from broadcaster.xmlsafe import parse_xml

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Fixed forever: entry ids must not change when the site moves to another address.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:broadcaster:website")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def entry_id(tenant: str, identifier: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, f'{tenant}|{identifier}')}"


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    if text is not None:
        el.text = text
    return el


def _feed(
    tenant: str, name: str, title: str, site_url: str, self_name: str, updated: datetime
) -> etree._Element:
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    feed.set(XML_LANG, "ja")
    _el(feed, "id", f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, f'{tenant}|feed|{self_name}')}")
    _el(feed, "title", title)
    _el(feed, "updated", updated.isoformat())
    _el(_el(feed, "author"), "name", name)
    _el(feed, "link", rel="self", type="application/atom+xml", href=f"{site_url}{self_name}")
    _el(feed, "link", rel="alternate", type="text/html", href=site_url)
    _el(feed, "generator", "broadcaster")
    return feed


def _entry(feed: etree._Element, tenant: str, card: Card, updated: datetime, site_url: str) -> etree._Element:
    entry = _el(feed, "entry")
    _el(entry, "id", entry_id(tenant, card.id))
    label = f"【{card.drill_label}】" if card.drill_label else ""
    state = "" if card.view in (View.CURRENT, View.CANCEL) else f"（{card.view_label}）"
    _el(entry, "title", f"{label}{card.title}{state}")
    _el(entry, "updated", updated.isoformat())
    _el(entry, "published", card.sent_iso)
    _el(entry, "category", term=card.kind)
    if card.drill_label:
        _el(entry, "category", term=card.status)
    summary = "\n".join(card.message) or card.title
    _el(entry, "summary", (label + summary) if label and not summary.startswith(label) else summary)
    return entry


def _serialize(feed: etree._Element) -> bytes:
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _updated_of(card: Card, entries: Mapping[str, Entry], newest: Mapping[str, str]) -> datetime:
    # An entry changes when a later message of its event supersedes or cancels it.
    own = entries[card.id].alert
    later = entries.get(newest.get(own.event_key, card.id))
    return max(own.sent, later.alert.sent) if later else own.sent


def pages_feed(
    tenant: str,
    name: str,
    site_url: str,
    cards: Sequence[Card],
    entries: Mapping[str, Entry],
    newest: Mapping[str, str],
    updated: datetime | None,
) -> bytes:
    """Every message, newest first: the readers' feed, with links to the pages."""
    feed = _feed(tenant, name, f"{name} 緊急情報", site_url, "feed.atom", updated or _EPOCH)
    for card in cards:
        entry = _entry(feed, tenant, card, _updated_of(card, entries, newest), site_url)
        _el(entry, "link", rel="alternate", type="text/html", href=f"{site_url}alerts/{card.slug}.html")
        _el(
            entry, "link", rel="related", type="application/cap+xml", href=f"{site_url}alerts/{card.slug}.xml"
        )
    return _serialize(feed)


CAP_FEED_VIEWS = frozenset({View.CURRENT, View.CANCEL, View.LIFTED})


def cap_feed(
    tenant: str,
    name: str,
    site_url: str,
    cards: Sequence[Card],
    entries: Mapping[str, Entry],
    caps: Mapping[str, bytes],
    newest: Mapping[str, str],
    updated: datetime | None,
) -> bytes:
    """The messages in force (and the ends of events), each with its CAP document inline."""
    feed = _feed(tenant, name, f"{name} 緊急情報 (CAP)", site_url, "cap.atom", updated or _EPOCH)
    for card in cards:
        if card.view not in CAP_FEED_VIEWS or newest.get(entries[card.id].alert.event_key) != card.id:
            continue
        entry = _entry(feed, tenant, card, _updated_of(card, entries, newest), site_url)
        _el(
            entry,
            "link",
            rel="alternate",
            type="application/cap+xml",
            href=f"{site_url}alerts/{slug(card.id)}.xml",
        )
        _el(entry, "link", rel="related", type="text/html", href=f"{site_url}alerts/{slug(card.id)}.html")
        content = _el(entry, "content", type="application/cap+xml")
        content.append(parse_xml(caps[card.id]))
    return _serialize(feed)
