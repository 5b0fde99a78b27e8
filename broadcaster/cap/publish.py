"""An alert as a CAP document we publish must carry it, whatever its source left out.

Aggregators (Google Public Alerts among them) refuse a document without `<expires>`, without a
`<description>` or without an `<area>` they can place, and an Update or Cancel whose
`<references>` name documents they never saw. A JMA 取消 has no body (so no areas), most
telegrams give no validity, an officer may send a headline alone, and a JMA 取消 of the
「latest of this event」 kind references an anchor, not a document. `for_publication` fills each
gap from what was published before and from documented defaults (docs/cap.md, *Publishing*);
`publication_issues` says what a document still lacks. Pure: the caller says what was published.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from broadcaster.model import JIS_X0402, KIND, Alert, Area, Info, MsgType, NamedValue, cap_datetime

# How long a message stays valid when its source gives no validity, by kind. Long enough to
# cover the hazard's usual life, short enough that an aggregator drops a message nobody updated.
DEFAULT_VALIDITY: dict[str, timedelta] = {
    "eew": timedelta(hours=1),
    "tornado": timedelta(hours=1),
    "missile": timedelta(hours=6),
    "heavy_rain": timedelta(hours=6),
    "earthquake": timedelta(hours=24),
    "tsunami": timedelta(hours=24),
    "weather_warning": timedelta(hours=24),
    "special_warning": timedelta(hours=24),
    "landslide": timedelta(hours=24),
    "flood": timedelta(hours=24),
    "typhoon": timedelta(hours=24),
    "typhoon_probability": timedelta(hours=24),
    "heat": timedelta(hours=24),
    "weather_info": timedelta(hours=24),
    "evacuation": timedelta(hours=24),
    "system": timedelta(hours=24),
    "shelter": timedelta(days=3),
    "damage": timedelta(days=3),
    "headquarters": timedelta(days=3),
    "lifeline": timedelta(days=3),
    "volcano": timedelta(days=7),
    "nankai_trough": timedelta(days=7),
    "nankai_commentary": timedelta(days=7),
    "subsequent_quake": timedelta(days=7),
    "notice": timedelta(days=7),
}
FALLBACK_VALIDITY = timedelta(hours=24)


def reference_of(alert: Alert) -> str:
    return f"{alert.sender},{alert.identifier},{cap_datetime(alert.sent)}"


def _identifier(reference: str) -> str:
    parts = reference.split(",")
    return parts[1] if len(parts) == 3 else ""


def placed(areas: Sequence[Area]) -> bool:
    """Whether one of the areas has a geocode, which aggregators place the alert by."""
    return any(a.geocode for a in areas)


def validity(info: Info) -> timedelta:
    kinds = info.event_codes(KIND)
    return DEFAULT_VALIDITY.get(kinds[0], FALLBACK_VALIDITY) if kinds else FALLBACK_VALIDITY


def _town(town: str, codes: Sequence[str]) -> tuple[Area, ...]:
    return (Area(area_desc=town, geocode=tuple(NamedValue(value_name=JIS_X0402, value=c) for c in codes)),)


def for_publication(alert: Alert, *, earlier: Sequence[Alert], town: str, codes: Sequence[str]) -> Alert:
    """The alert as published on a town's own feed.

    `earlier`: the messages of the same event published on that feed before this one, oldest
    first. An Update or Cancel keeps those of its references that name one of them; when none
    does (a JMA 取消 that means "the latest of this event" names an anchor, not a document) it
    references the newest of them; with none published before it is, for this feed, the first
    message of its event and goes out as an Alert. `town` and `codes` (its JIS X 0402 codes) are
    the area of last resort.
    """
    published = {a.identifier for a in earlier}
    refs = tuple(r for r in alert.references if _identifier(r) in published)
    if not refs and earlier:
        refs = (reference_of(earlier[-1]),)
    msg_type = alert.msg_type
    if msg_type in (MsgType.UPDATE, MsgType.CANCEL) and not refs:
        msg_type = MsgType.ALERT
    infos = []
    for info in alert.info:
        start = max(t for t in (alert.sent, info.effective, info.onset) if t is not None)
        expires = info.expires if info.expires and info.expires > start else start + validity(info)
        description = info.description or info.headline or info.event
        areas = tuple(info.area)
        if not placed(areas):
            before = [
                i.area
                for a in reversed(earlier)
                for i in a.info
                if i.language == info.language and placed(i.area)
            ]
            areas = tuple(areas) + (before[0] if before else _town(town, codes))
        infos.append(info.model_copy(update={"expires": expires, "description": description, "area": areas}))
    return alert.model_copy(
        update={
            "msg_type": msg_type,
            "references": refs if msg_type in (MsgType.UPDATE, MsgType.CANCEL) else (),
            "info": tuple(infos),
        }
    )


def publication_issues(alert: Alert, published: set[str] | None = None) -> list[str]:
    """What keeps a document from being taken by aggregators (OASIS CAP 1.2 leaves these optional;
    Google Public Alerts CAP requires them); `published`: the identifiers the feed has shown."""
    issues: list[str] = []
    if not alert.info:
        issues.append("no <info>")
    for info in alert.info:
        where = f"info[{info.language}]"
        if info.expires is None:
            issues.append(f"{where}: no <expires>")
        elif info.expires <= alert.sent:
            issues.append(f"{where}: <expires> not after <sent>")
        if not (info.description or "").strip():
            issues.append(f"{where}: no <description>")
        if not any(a.geocode for a in info.area):
            issues.append(f"{where}: no <area> with a <geocode>")
    if alert.msg_type in (MsgType.UPDATE, MsgType.CANCEL) and not alert.references:
        issues.append(f"{alert.msg_type.value} without <references>")
    for ref in alert.references:
        parts = ref.split(",")
        if len(parts) != 3:
            issues.append(f"reference {ref!r} is not sender,identifier,sent")
        elif published is not None and parts[1] not in published:
            issues.append(f"reference to {parts[1]}, which was never published")
    return issues
