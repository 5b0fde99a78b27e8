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

from adapters.outbound.website.state import Entry, View
from broadcaster.model import JST, KIND, Alert, Info, MsgType, Status
from broadcaster.site_layout import slug

STATUS_LABELS = {
    Status.EXERCISE: "訓練",
    Status.TEST: "試験",
    Status.SYSTEM: "システム",
    Status.DRAFT: "下書き",
}
STATUS_NOTES = {
    Status.EXERCISE: "これは訓練です。実際の災害ではありません。(This is a drill.)",
    Status.TEST: "これは試験です。実際の災害ではありません。(This is a test.)",
    Status.SYSTEM: "これはシステムの連絡です。(System message.)",
    Status.DRAFT: "これは下書きです。(Draft.)",
}
VIEW_LABELS = {
    View.CURRENT: "発表中",
    View.SUPERSEDED: "更新済み",
    View.CANCELLED: "取消",
    View.CANCEL: "取消のお知らせ",
    View.LIFTED: "解除",
    View.EXPIRED: "期限切れ",
}
SEVERITY_LABELS = {
    "Extreme": "極めて重大",
    "Severe": "重大",
    "Moderate": "中程度",
    "Minor": "軽微",
    "Unknown": "不明",
}
URGENCY_LABELS = {
    "Immediate": "直ちに",
    "Expected": "間もなく",
    "Future": "今後",
    "Past": "終了",
    "Unknown": "不明",
}
CERTAINTY_LABELS = {
    "Observed": "発生",
    "Likely": "可能性が高い",
    "Possible": "可能性がある",
    "Unlikely": "可能性は低い",
    "Unknown": "不明",
}


def jst_text(dt: datetime | None) -> str:
    if dt is None:
        return ""
    t = dt.astimezone(JST)
    return f"{t.year}年{t.month}月{t.day}日 {t.hour}時{t.minute:02d}分"


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
    districts: tuple[str, ...]  # names
    town_wide: bool
    message: tuple[str, ...]  # the channel's rendered text (Japanese), line by line
    others: tuple[tuple[str, str, tuple[str, ...]], ...]  # (language, title, lines) of other texts
    infos: tuple[InfoView, ...]
    newest_slug: str | None  # for superseded / cancelled: the message that replaced this one

    @property
    def is_drill(self) -> bool:
        return bool(self.drill_label)


def _info_view(info: Info) -> InfoView:
    return InfoView(
        lang=info.language,
        event=info.event,
        headline=info.headline or "",
        description=lines(info.description),
        instruction=lines(info.instruction),
        areas=tuple(a.area_desc for a in info.area),
        severity=SEVERITY_LABELS.get(info.severity.value, info.severity.value),
        urgency=URGENCY_LABELS.get(info.urgency.value, info.urgency.value),
        certainty=CERTAINTY_LABELS.get(info.certainty.value, info.certainty.value),
        sender_name=info.sender_name or "",
        effective=jst_text(info.effective),
        onset=jst_text(info.onset),
        expires=jst_text(info.expires),
        web=safe_link(info.web),
        web_text=info.web or "",
        contact=info.contact or "",
    )


def _strip_label(title: str, label: str) -> str:
    # The renderer puts 【訓練】 at the start of every text; the page shows its own badge.
    mark = f"【{label}】"
    return title[len(mark) :].lstrip() if label and title.startswith(mark) else title


def card(entry: Entry, view: View, district_names: Mapping[str, str], newest: str | None) -> Card:
    alert: Alert = entry.alert
    info = alert.primary if alert.info else None
    label = STATUS_LABELS.get(alert.status, "")
    ja = next(
        (t for t in entry.texts if t.language.startswith("ja")), entry.texts[0] if entry.texts else None
    )
    title = (ja.title if ja else "") or (info.headline if info else "") or (info.event if info else "")
    title = _strip_label(title or alert.identifier, label)
    if alert.msg_type is MsgType.CANCEL and "取消" not in title:
        title = f"取消: {title}"
    kinds = info.event_codes(KIND) if info else ()
    expiries = [i.expires for i in alert.info if i.expires is not None]
    return Card(
        id=alert.identifier,
        slug=slug(alert.identifier),
        view=view,
        view_label=VIEW_LABELS[view],
        status=alert.status.value,
        drill_label=label,
        drill_note=STATUS_NOTES.get(alert.status, ""),
        msg_type=alert.msg_type.value,
        kind=kinds[0] if kinds else "other",
        title=title,
        event=info.event if info else "",
        severity=info.severity.value if info else "Unknown",
        severity_label=SEVERITY_LABELS.get(info.severity.value, "") if info else "",
        urgency=info.urgency.value if info else "Unknown",
        sent=jst_text(alert.sent),
        sent_iso=alert.sent.isoformat(),
        expires=jst_text(max(expiries)) if expiries else "",
        areas=tuple(a.area_desc for a in info.area) if info else (),
        district_ids=entry.districts,
        districts=tuple(district_names.get(d, d) for d in entry.districts),
        town_wide=entry.town_wide or not entry.districts,
        message=lines(ja.body) if ja else (),
        others=tuple(
            (t.language, _strip_label(t.title, label), lines(t.body))
            for t in entry.texts
            if not t.language.startswith("ja")
        ),
        infos=tuple(_info_view(i) for i in alert.info),
        newest_slug=slug(newest) if newest and newest != alert.identifier else None,
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
        "titles": {language: title for language, title, _ in c.others if title},
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
        "json": base + ".json",
        "cap": base + ".xml",
    }


def cards_for(cards: Sequence[Card], district: str | None) -> list[Card]:
    """The cards that concern a district: its own and the town-wide ones."""
    if district is None:
        return list(cards)
    return [c for c in cards if c.town_wide or district in c.district_ids]
