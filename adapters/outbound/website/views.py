"""What a page or a JSON file says about one message: plain values, already in the reader's words.

Templates get these and nothing else, so that no template reaches into the model and every text
they print goes through Jinja's autoescape. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from adapters.outbound.website.state import Entry, PageText, View
from adapters.outbound.website.words import PAGE_LANGUAGES, rows, words
from broadcaster.model import DISTRICT_CODE, JST, KIND, Alert, Info, MsgType, Status
from broadcaster.model.timeutil import zone
from broadcaster.render.languages import BY_TAG, EASY_JA, JA, canonical, fallback_chain
from broadcaster.site_layout import slug

# The Japanese words, for the feeds and the JSON (their readers are Japanese first); the pages
# take theirs from words.py in the page's language.
_JA_WORDS = words(JA)
STATUS_LABELS = {s: _JA_WORDS[f"status_{s.value}"] for s in (Status.EXERCISE, Status.TEST, Status.SYSTEM, Status.DRAFT)}
VIEW_LABELS = {v: _JA_WORDS[f"view_{v.value}"] for v in View}
SEVERITY_LABELS = {s: _JA_WORDS[f"sev_{s}"] for s in ("Extreme", "Severe", "Moderate", "Minor", "Unknown")}


def jst_text(dt: datetime | None, lang: str = JA, time_zone: str | None = None) -> str:
    """A time as a reader of ``lang`` reads it, in the town's clock (Japan's unless the tenant sets
    another): the zone is said outside Japanese, where a reader may think in another, and in
    Japanese too when the town's clock is not Japan's."""
    if dt is None:
        return ""
    tz = zone(time_zone)
    t = dt.astimezone(tz)
    if lang in (JA, EASY_JA):
        own = "" if tz is JST else f"（{t.tzname()}）"
        return f"{t.year}年{t.month}月{t.day}日 {t.hour}時{t.minute:02d}分{own}"
    return f"{t:%Y-%m-%d %H:%M} {t.tzname()}"


def safe_link(url: str | None) -> str | None:
    """A link only to http(s): a `javascript:` or `data:` URL from a feed stays plain text."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url.strip()
    return None


def lines(text: str | None) -> tuple[str, ...]:
    return tuple(line for line in (text or "").splitlines() if line.strip())


@dataclass(frozen=True)
class InfoView:
    lang: str
    tag: str  # the supported language it is in (ja-JP is ja)
    name: str  # that language as its readers name it
    event: str
    headline: str
    description: tuple[str, ...]
    instruction: tuple[str, ...]
    areas: tuple[str, ...]
    severity: str
    urgency: str
    certainty: str
    sender_name: str
    effective: str
    onset: str
    expires: str
    web: str | None
    web_text: str
    contact: str


@dataclass(frozen=True)
class TextView:
    """The channel's text in one language, for the page's folded "other languages"."""

    lang: str
    name: str  # the language as its readers name it
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Card:
    id: str
    slug: str
    view: View
    view_label: str
    status: str
    drill_label: str
    drill_note: str
    msg_type: str
    kind: str
    title: str
    event: str
    severity: str
    severity_label: str
    urgency: str
    sent: str
    sent_iso: str
    expires: str
    areas: tuple[str, ...]
    district_ids: tuple[str, ...]
    districts: tuple[str, ...]  # names, in the page's language
    town_wide: bool
    message: tuple[str, ...]  # the channel's text in the reader's language (else its fallback), line by line
    others: tuple[TextView, ...]  # every other language's text, folded behind the reader's
    infos: tuple[InfoView, ...]  # the reader's language's first
    newest_slug: str | None  # for superseded / cancelled: the message that replaced this one
    lang: str = JA  # the page's language
    text_lang: str = JA  # the language of `message` (the page's, or what it fell back to)
    text_name: str = "日本語"  # that language as its readers name it
    heading: str = ""  # the message's heading: its event in the text's language, never a bare "notice"

    @property
    def is_drill(self) -> bool:
        return bool(self.drill_label)


def _info_view(info: Info, w: Mapping[str, str], lang: str, time_zone: str | None = None) -> InfoView:
    return InfoView(
        lang=info.language,
        tag=canonical(info.language),
        name=BY_TAG[canonical(info.language)].native if canonical(info.language) in BY_TAG else info.language,
        event=info.event,
        headline=info.headline or "",
        description=lines(info.description),
        instruction=lines(info.instruction),
        areas=tuple(a.area_desc for a in info.area),
        severity=w.get(f"sev_{info.severity.value}", info.severity.value),
        urgency=w.get(f"urg_{info.urgency.value}", info.urgency.value),
        certainty=w.get(f"cer_{info.certainty.value}", info.certainty.value),
        sender_name=info.sender_name or "",
        effective=jst_text(info.effective, lang, time_zone),
        onset=jst_text(info.onset, lang, time_zone),
        expires=jst_text(info.expires, lang, time_zone),
        web=safe_link(info.web),
        web_text=info.web or "",
        contact=info.contact or "",
    )


def _strip_label(title: str, label: str) -> str:
    # The renderer puts 【訓練】 at the start of every text; the page shows its own badge.
    mark = f"【{label}】"
    return title[len(mark) :].lstrip() if label and title.startswith(mark) else title


def _strip_any_label(title: str, status: Status) -> str:
    # Each language's text carries the drill mark in its own words (【訓練】, [DRILL], （くんれん）,
    # templates/_phrases), often after the Japanese one; the page shows its own badge instead.
    marks = [
        f"{open_}{word}{close}".casefold()
        for word in rows().get(f"status_{status.value}", ())
        for open_, close in (("【", "】"), ("[", "]"), ("（", "）"))
    ]
    stripped = True
    while stripped:
        stripped = False
        for mark in marks:
            if title.casefold().startswith(mark):
                title = title[len(mark) :].lstrip()
                stripped = True
    return title


def _area_names(info: Info | None, district_names: Mapping[str, str]) -> tuple[str, ...]:
    """Each area as the reader knows it: a district of the town by the name the town gave in the
    reader's language (an officer's alert may carry only the district's id as its text), any
    other area by its own text."""
    out: list[str] = []
    for area in info.area if info else ():
        ids = [g.value for g in area.geocode if g.value_name == DISTRICT_CODE and g.value in district_names]
        if ids:
            out.extend(district_names[i] for i in ids)
        else:
            out.append(area.area_desc)
    return tuple(dict.fromkeys(out))


def _best(texts: Sequence[PageText], lang: str) -> PageText | None:
    """The text a reader of ``lang`` reads first: theirs, else easy Japanese, else Japanese (the
    renderer's fallback, broadcaster/render/languages.py), else whatever there is."""
    by_lang = {canonical(t.language): t for t in texts}
    for tag in fallback_chain(lang):
        if tag in by_lang:
            return by_lang[tag]
    return texts[0] if texts else None


def _best_info(infos: Sequence[Info], lang: str) -> Info | None:
    by_lang: dict[str, Info] = {}
    for i in infos:
        by_lang.setdefault(canonical(i.language), i)
    for tag in fallback_chain(lang):
        if tag in by_lang:
            return by_lang[tag]
    return infos[0] if infos else None


def card(
    entry: Entry,
    view: View,
    district_names: Mapping[str, str],
    newest: str | None,
    lang: str = JA,
    *,
    cancelled: Entry | None = None,
    time_zone: str | None = None,
) -> Card:
    """One message as a reader of ``lang`` sees it; ``district_names`` are in that language.

    ``cancelled`` is the message a Cancel withdraws: a cancel that names no district of its own
    (a telegram's, an officer's written without districts) shows the districts and areas of what
    it cancels, never the 全域 of its bare form.
    """
    alert: Alert = entry.alert
    w = words(lang)
    info = alert.primary if alert.info else None
    label = w[f"status_{alert.status.value}"] if alert.status in STATUS_LABELS else ""
    ja_label = STATUS_LABELS.get(alert.status, "")
    shown = _best(entry.texts, lang)
    text_lang = canonical(shown.language) if shown else JA
    own_info = _best_info(alert.info, lang)
    title = (shown.title if shown else "") or (own_info.headline if own_info else "") or (own_info.event if own_info else "")
    title = _strip_any_label(_strip_label(title or alert.identifier, ja_label), alert.status)
    is_cancel = alert.msg_type is MsgType.CANCEL
    if is_cancel and lang == JA and "取消" not in title:
        # Other languages' texts say their cancel in their own words (Cancelled:, Hủy bỏ:).
        title = f"取消: {title}"
    if is_cancel:
        heading = w["cancel_heading"]
    else:
        # The event in the text's own language (Evacuation Order, 避難指示): the heading says what
        # the message is, at its level, in the words of the text under it.
        same = own_info if own_info and canonical(own_info.language) == text_lang else None
        heading = (same.event if same else "") or (info.event if info and text_lang == JA else "") or title
    kinds = info.event_codes(KIND) if info else ()
    expiries = [i.expires for i in alert.info if i.expires is not None]
    district_ids, town_wide = entry.districts, entry.town_wide or not entry.districts
    areas = _area_names(info, district_names)
    if is_cancel and not entry.districts and cancelled is not None and cancelled.districts:
        district_ids, town_wide = cancelled.districts, cancelled.town_wide
        old = cancelled.alert.primary if cancelled.alert.info else None
        areas = _area_names(old, district_names) if old else areas
    if district_ids and not town_wide:
        # The town's names for its districts (in the reader's language) over the raw area text,
        # which for an officer's alert may be the district's id.
        areas = tuple(district_names.get(d, d) for d in district_ids)
    infos = list(alert.info)
    if own_info is not None:
        infos.remove(own_info)
        infos.insert(0, own_info)
    return Card(
        id=alert.identifier,
        slug=slug(alert.identifier),
        view=view,
        view_label=w[f"view_{view.value}"],
        status=alert.status.value,
        drill_label=label,
        drill_note=w[f"note_{alert.status.value}"] if label else "",
        msg_type=alert.msg_type.value,
        kind=kinds[0] if kinds else "other",
        title=title,
        event=info.event if info else "",
        severity=info.severity.value if info else "Unknown",
        severity_label=w.get(f"sev_{info.severity.value}", "") if info else "",
        urgency=info.urgency.value if info else "Unknown",
        sent=jst_text(alert.sent, lang, time_zone),
        sent_iso=alert.sent.isoformat(),
        expires=jst_text(max(expiries), lang, time_zone) if expiries else "",
        areas=areas,
        district_ids=district_ids,
        districts=tuple(district_names.get(d, d) for d in district_ids),
        town_wide=town_wide,
        message=lines(shown.body) if shown else (),
        others=tuple(
            TextView(
                lang=t.language,
                name=BY_TAG[canonical(t.language)].native if canonical(t.language) in BY_TAG else t.language,
                title=_strip_any_label(_strip_label(t.title, ja_label), alert.status),
                lines=lines(t.body),
            )
            for t in entry.texts
            if t is not shown
        ),
        infos=tuple(_info_view(i, w, lang, time_zone) for i in infos),
        newest_slug=slug(newest) if newest and newest != alert.identifier else None,
        lang=lang,
        text_lang=text_lang,
        text_name=BY_TAG[text_lang].native if text_lang in BY_TAG else text_lang,
        heading=heading,
    )


def summary_json(c: Card, site_url: str) -> dict[str, Any]:
    """One message in the JSON API and the banner's JSON (links absolute, for embedding)."""
    base = f"{site_url}alerts/{c.slug}"
    return {
        "id": c.id,
        "state": c.view.value,
        "status": c.status,
        "drill": c.is_drill,
        "label": c.drill_label,
        "msg_type": c.msg_type,
        "kind": c.kind,
        "title": c.title,
        # The title in each other language the town sent, for readers of those (the app shows its own).
        "titles": {t.lang: t.title for t in c.others if t.title and t.lang != c.text_lang},
        "event": c.event,
        "severity": c.severity,
        "urgency": c.urgency,
        "sent": c.sent_iso,
        "areas": list(c.areas),
        "districts": list(c.districts),
        "district_ids": list(c.district_ids),
        "town_wide": c.town_wide,
        "summary": "\n".join(c.message[:6]),
        "url": base + ".html",
        # The same page in each other language the site writes, for the app to open its reader's.
        "pages": {lang: f"{site_url}{lang}/alerts/{c.slug}.html" for lang in PAGE_LANGUAGES if lang != JA},
        "json": base + ".json",
        "cap": base + ".xml",
    }


def cards_for(cards: Sequence[Card], district: str | None) -> list[Card]:
    """The cards that concern a district: its own and the town-wide ones."""
    if district is None:
        return list(cards)
    return [c for c in cards if c.town_wide or district in c.district_ids]
