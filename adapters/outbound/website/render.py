"""Every file of a release, from the site state. Pure: no I/O beyond reading the package's own
templates and assets, no clock (the caller passes the time that decides expiry).

Files fall in two groups. The lists (index, district pages, banner, feeds, JSON API, the state)
change with every publish and are always drawn. A message's own files (page, JSON, CAP) change
only when its view changes, so they are *reusable*: the publisher links them from the previous
release when there is one, and draws them only when it must.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from adapters.outbound.website import feeds
from adapters.outbound.website.state import (
    CURRENT_VIEWS,
    Entry,
    SiteState,
    View,
    earlier_of_event,
    newest_by_event,
    prominence,
)
from adapters.outbound.website.views import Card, card, cards_for, summary_json
from adapters.outbound.website.words import PAGE_LANGUAGES, place_name, prefix, words
from broadcaster.cap import to_cap
from broadcaster.cap.publish import for_publication
from broadcaster.model import Alert, MsgType
from broadcaster.render.languages import BY_TAG, JA
from broadcaster.site_layout import STATE, slug

# Every publish rewrites the CAP feed from the alerts it lists, and a message's CAP never changes:
# without this, each new alert paid to_cap (about 1 ms) again for every alert in the feed.
# Keyed by the alert's JSON, so an alert whose content differs is never served a stale document.
_CAP_CACHE: OrderedDict[str, bytes] = OrderedDict()
_CAP_CACHE_SIZE = 256  # a feed lists 50 alerts per town
_CAP_LOCK = threading.Lock()  # publishes run in worker threads, one per tenant's site


def cap_of(alert: Alert) -> bytes:
    key = alert.model_dump_json()
    with _CAP_LOCK:
        hit = _CAP_CACHE.get(key)
        if hit is not None:
            _CAP_CACHE.move_to_end(key)
            return hit
    doc = to_cap(alert)
    with _CAP_LOCK:
        _CAP_CACHE[key] = doc
        while len(_CAP_CACHE) > _CAP_CACHE_SIZE:
            _CAP_CACHE.popitem(last=False)
    return doc


_HERE = Path(__file__).parent
_TEMPLATES = _HERE / "templates"
_STATIC = _HERE / "static"
ASSETS = ("site.css", "banner.css", "site.js")
HISTORY_ON_INDEX = 30
HISTORY_IN_FEEDS = 50

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def warm_templates() -> int:
    """Compile every page template now (jinja compiles on first use, on the first publish's time);
    returns how many."""
    names = _env.list_templates()
    for name in names:
        _env.get_template(name)
    return len(names)


def _design() -> str:
    # Another page design (templates, styles, this module) must redraw every page it drew.
    h = hashlib.sha256()
    for path in sorted(
        [*_TEMPLATES.iterdir(), *_STATIC.iterdir(), Path(__file__), _HERE / "views.py", _HERE / "words.py"]
    ):
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


DESIGN = _design()


@dataclass(frozen=True)
class Site:
    tenant: str
    name: str
    url: str  # absolute, ends with "/"
    districts: tuple[tuple[str, str], ...] = ()  # (id, name)
    # The town's JIS X 0402 codes: the area of a CAP document whose alert names none it can place.
    codes: tuple[str, ...] = ()
    # The names the town set for readers of other languages (tenant settings' name_en); pages in
    # those languages show them, Japanese pages the kanji.
    name_en: str = ""
    districts_en: tuple[tuple[str, str], ...] = ()  # (id, English name)
    time_zone: str = "Asia/Tokyo"  # the town's clock, for every time on its pages

    def town(self, lang: str) -> str:
        return place_name(self.name, self.name_en, lang)

    def district_names(self, lang: str) -> dict[str, str]:
        english = dict(self.districts_en)
        return {i: place_name(n, english.get(i), lang) for i, n in self.districts}


def published_cap(alert: Alert, entries: Mapping[str, Entry], site: Site) -> bytes:
    """The CAP document of a message as this site publishes it: with an expiry, a description
    and a placed area, and references to the messages of its event the site published before
    (docs/cap.md, *Publishing*)."""
    earlier = earlier_of_event(entries, alert)
    return cap_of(for_publication(alert, earlier=earlier, town=site.name, codes=site.codes))


@dataclass
class Release:
    """A release's files: drawn now, or reusable from the previous release (with a way to draw)."""

    fresh: dict[str, bytes] = field(default_factory=dict)
    reusable: dict[str, Callable[[], bytes]] = field(default_factory=dict)
    # The state written as STATE, so that the publisher need not parse it back next time.
    state: SiteState | None = None


def _json(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _page(template: str, site: Site, root: str, **context: Any) -> bytes:
    return _env.get_template(template).render(site=site, root=root, **context).encode("utf-8")


def _lang_page(template: str, site: Site, lang: str, rel: str, **context: Any) -> bytes:
    """A page of the site in ``lang`` at ``rel`` (its path within the language's pages): the same
    relative links between pages in every language, one more ``../`` to the shared files, and the
    language switch to the same page in each of the others."""
    depth = rel.count("/")
    root = "../" * depth  # to the language's own pages
    assets = root + ("../" if prefix(lang) else "")  # to the site's shared files (styles, feeds, JSON)
    switch = [
        (other, BY_TAG[other].native, f"{assets}{prefix(other)}{rel}", other == lang)
        for other in PAGE_LANGUAGES
    ]
    return (
        _env.get_template(template)
        .render(
            site=site,
            root=root,
            assets=assets,
            lang=lang,
            w=words(lang),
            town=site.town(lang),
            names=site.district_names(lang),
            switch=switch,
            card_html=partial(_card_html, root=root),
            **context,
        )
        .encode("utf-8")
    )


def signature(view: View, newest: str) -> str:
    return f"{view.value} {newest}"


def _detail_json(c: Card, entry: Entry, site: Site) -> bytes:
    data = summary_json(c, site.url)
    data["texts"] = [t.model_dump() for t in entry.texts]
    data["replaced_by"] = c.newest_slug and f"{site.url}alerts/{c.newest_slug}.html"
    data["alert"] = entry.alert.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _json(data)


def build(state: SiteState, site: Site, view: Mapping[str, View], previous: SiteState | None) -> Release:
    """The files of the release that shows `state`; `previous` is what the last release showed."""
    entries = state.entries
    newest = newest_by_event(entries)
    names = {lang: site.district_names(lang) for lang in PAGE_LANGUAGES}
    cancelled = _cancelled_by(entries)
    cache: dict[tuple[str, str], Card] = {}

    def card_in(ident: str, lang: str) -> Card:
        # Cards are drawn per language only for what a page shows: the lists, and the pages that
        # changed; the Japanese one of every message orders the lists and fills the JSON.
        key = (ident, lang)
        if key not in cache:
            e = entries[ident]
            cache[key] = _card_of(
                site, e, view[ident], names[lang], newest[e.alert.event_key], lang, cancelled.get(ident)
            )
        return cache[key]

    cards = {ident: card_in(ident, JA) for ident in entries}
    full = previous is None or previous.design != DESIGN
    out = Release()

    for ident, e in entries.items():
        c = cards[ident]
        same = (
            not full
            and previous is not None
            and previous.views.get(ident) == signature(view[ident], newest[e.alert.event_key])
        )
        for lang in PAGE_LANGUAGES:
            rel = f"alerts/{c.slug}.html"
            page = partial(_alert_page, site, lang, rel, card_in, ident)
            if same:
                out.reusable[prefix(lang) + rel] = page
            else:
                out.fresh[prefix(lang) + rel] = page()
        stem = f"alerts/{c.slug}"
        data = partial(_detail_json, c, e, site)
        if same:
            out.reusable[f"{stem}.json"] = data
        else:
            out.fresh[f"{stem}.json"] = data()
        cap = partial(published_cap, e.alert, entries, site)
        # A message's CAP never changes: link it whenever the previous release has it.
        if not full and previous is not None and ident in previous.entries:
            out.reusable[f"{stem}.xml"] = cap
        else:
            out.fresh[f"{stem}.xml"] = cap()

    ranked = sorted(cards.values(), key=lambda c: prominence(entries[c.id]), reverse=True)
    current = [c for c in ranked if c.view in CURRENT_VIEWS]
    recent = sorted(cards.values(), key=lambda c: (entries[c.id].alert.sent, c.id), reverse=True)

    for lang in PAGE_LANGUAGES:
        mine_now = [card_in(c.id, lang) for c in current]
        out.fresh[prefix(lang) + "index.html"] = _lang_page(
            "index.html",
            site,
            lang,
            "index.html",
            current=mine_now,
            history=[card_in(c.id, lang) for c in recent[:HISTORY_ON_INDEX]],
            district=None,
            page="index",
        )
        for d_id, _ in site.districts:
            rel = f"districts/{d_id}.html"
            out.fresh[prefix(lang) + rel] = _lang_page(
                "index.html",
                site,
                lang,
                rel,
                current=cards_for(mine_now, d_id),
                history=[],
                district=(d_id, names[lang][d_id]),
                page="district",
            )
    for d_id, d_name in site.districts:
        mine = cards_for(current, d_id)
        out.fresh[f"api/districts/{d_id}.json"] = _json(
            _list_json(state, site, mine, district={"id": d_id, "name": d_name})
        )
    out.fresh["banner.html"] = _page("banner.html", site, site.url, current=current)
    out.fresh["banner.json"] = _json(_list_json(state, site, current))
    out.fresh["api/alerts.json"] = _json(_list_json(state, site, current))
    out.fresh["api/history.json"] = _json(_list_json(state, site, recent))
    out.fresh["api/site.json"] = _json(
        {
            "tenant": site.tenant,
            "name": site.name,
            "url": site.url,
            "release": state.release,
            "districts": [
                {"id": i, "name": n, "url": f"{site.url}districts/{i}.html"} for i, n in site.districts
            ],
            "files": {
                "alerts": f"{site.url}api/alerts.json",
                "history": f"{site.url}api/history.json",
                "banner_html": f"{site.url}banner.html",
                "banner_json": f"{site.url}banner.json",
                "atom": f"{site.url}feed.atom",
                "cap": f"{site.url}cap.atom",
            },
        }
    )
    feed_cards = recent[:HISTORY_IN_FEEDS]
    out.fresh["feed.atom"] = feeds.pages_feed(
        site.tenant, site.name, site.url, feed_cards, entries, newest, state.updated
    )
    caps = {
        c.id: published_cap(entries[c.id].alert, entries, site)
        for c in feed_cards
        if c.view in feeds.CAP_FEED_VIEWS and newest[entries[c.id].alert.event_key] == c.id
    }
    out.fresh["cap.atom"] = feeds.cap_feed(
        site.tenant, site.name, site.url, feed_cards, entries, caps, newest, state.updated
    )
    for asset in ASSETS:
        reader = (_STATIC / asset).read_bytes
        if full:
            out.fresh[asset] = reader()
        else:
            out.reusable[asset] = reader
    recorded = state.model_copy(
        update={
            "design": DESIGN,
            "views": {i: signature(view[i], newest[e.alert.event_key]) for i, e in entries.items()},
        }
    )
    out.fresh[STATE] = recorded.model_dump_json(by_alias=True, indent=1).encode("utf-8")
    out.state = recorded
    return out


def _list_json(
    state: SiteState, site: Site, cards: list[Card], district: dict[str, str] | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tenant": site.tenant,
        "name": site.name,
        "release": state.release,
        "updated": state.updated.isoformat() if state.updated else None,
        "site": site.url,
    }
    if district is not None:
        data["district"] = district
    data["alerts"] = [summary_json(c, site.url) for c in cards]
    return data


# Cards of earlier publishes: a message's card changes only with its view, the newest message of its
# event and what it cancels, so a publish draws only the new message's cards, not every listed
# message's in seven languages again (docs/benchmarks.md). A hit needs the very same entries (the
# publisher keeps the state it wrote, whose unchanged entries are the same objects), so an entry
# that changed can never be served an old card.
_CARDS: OrderedDict[tuple[Site, str, str, str, str, str], tuple[Entry, Entry | None, Card]] = OrderedDict()
_CARDS_SIZE = 8192  # 500 messages kept per town, in seven languages, and a few towns
_CARDS_LOCK = threading.Lock()


def _card_of(
    site: Site, e: Entry, v: View, names: Mapping[str, str], newest: str, lang: str, cancelled: Entry | None
) -> Card:
    key = (site, e.identifier, lang, v.value, newest, cancelled.identifier if cancelled else "")
    with _CARDS_LOCK:
        hit = _CARDS.get(key)
        if hit is not None and hit[0] is e and hit[1] is cancelled:
            _CARDS.move_to_end(key)
            return hit[2]
    made = card(e, v, names, newest, lang, cancelled=cancelled, time_zone=site.time_zone)
    with _CARDS_LOCK:
        _CARDS[key] = (e, cancelled, made)
        while len(_CARDS) > _CARDS_SIZE:
            _CARDS.popitem(last=False)
    return made


_CARD_HTML: OrderedDict[tuple[int, str], tuple[Card, Markup]] = OrderedDict()


def _card_html(c: Card, root: str) -> Markup:
    """A card as the lists show it, drawn once per card object and kept: the index and every
    district page of a language list the same cards, and an unchanged card is the same object
    from one publish to the next (_card_of)."""
    key = (id(c), root)
    with _CARDS_LOCK:
        hit = _CARD_HTML.get(key)
        if hit is not None and hit[0] is c:
            _CARD_HTML.move_to_end(key)
            return hit[1]
    # The output of an autoescaping template: every text in it is already escaped.
    made = Markup(_env.get_template("card.html").render(c=c, root=root, w=words(c.lang)))  # noqa: S704
    with _CARDS_LOCK:
        _CARD_HTML[key] = (c, made)
        while len(_CARD_HTML) > 2 * _CARDS_SIZE:
            _CARD_HTML.popitem(last=False)
    return made


def _alert_page(site: Site, lang: str, rel: str, card_in: Callable[[str, str], Card], ident: str) -> bytes:
    return _lang_page("alert.html", site, lang, rel, c=card_in(ident, lang), district=None, page="alert")


def _cancelled_by(entries: Mapping[str, Entry]) -> dict[str, Entry]:
    """For each Cancel, the newest earlier message of its event: what it withdraws."""
    out: dict[str, Entry] = {}
    for ident, e in entries.items():
        if e.alert.msg_type is not MsgType.CANCEL:
            continue
        earlier = earlier_of_event(entries, e.alert)
        if earlier:
            out[ident] = entries[earlier[-1].identifier]
    return out


def detail_path(identifier: str) -> str:
    return f"alerts/{slug(identifier)}.html"
