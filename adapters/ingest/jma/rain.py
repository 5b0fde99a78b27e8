"""Rain flashes: 記録的短時間大雨情報 (VPOA50), 府県気象防災速報 (VPBS50: 線状降水帯発生,
記録的短時間大雨, 短時間大雪, 竜巻) and 顕著な大雨に関する情報 (線状降水帯), which before
気象防災速報 came as a 府県気象情報 (VPFJ50) titled 「顕著な大雨に関する…気象情報」.

Which flash a 気象防災速報 is comes from its Headline Information 「情報タグ」 (a fixed vocabulary),
never from the text.
"""

from __future__ import annotations

from adapters.ingest.jma.draft import RAIN_CODE, Draft, join
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.warnitems import combined, from_body, from_head
from adapters.ingest.jma.xmltools import attr, every, iter_local, text
from broadcaster.model import Category, Certainty, Kind, ResponseType, Severity, Urgency

INFO_TAG = "情報タグ"
LINEAR_RAINBAND = "線状降水帯"
SIGNIFICANT_RAIN_TITLE = "顕著な大雨に関する"


def info_tags(env: Envelope) -> list[str]:
    return [
        text(kind, "Condition")
        for info in every(env.headline, "Information")
        if attr(info, "type") == INFO_TAG
        for kind in every(info, "Item", "Kind")
    ]


def _tag_areas(env: Envelope, draft: Draft) -> None:
    for info in every(env.headline, "Information"):
        if attr(info, "type") != INFO_TAG:
            continue
        for areas in every(info, "Item", "Areas"):
            for area in every(areas, "Area"):
                draft.area(text(area, "Name"), text(area, "Code"), attr(areas, "codeType"))


def _observations(env: Envelope, draft: Draft) -> None:
    for item in iter_local(env.body, "Item"):
        station = text(item, "Station", "Name")
        for event in every(item, "Kind", "Property", "EventPart", "Event"):
            draft.param(
                "event", join(text(item, "Area", "Code"), text(event, "EventName"), text(event, "Time"))
            )
        for tag in ("Precipitation", "SnowfallDepth"):
            for part in every(item, "Kind", "Property", tag + "Part", tag):
                draft.param(
                    "observed",
                    join(
                        station or text(item, "Area", "Name"), attr(part, "type"), attr(part, "description")
                    ),
                )


def parse_record_rain(env: Envelope, draft: Draft) -> None:
    draft.category = Category.MET
    draft.kind = Kind.HEAVY_RAIN
    draft.event = "記録的短時間大雨情報"
    items = combined(
        from_body(env.body, "記録的短時間大雨情報"), from_head(env.headline, "記録的短時間大雨情報")
    )
    for item in items:
        if any(k.active for k in item.kinds):
            draft.area(item.name, item.code, item.code_type)
            draft.param("recordRain", join(item.code, item.name))
    draft.code(RAIN_CODE, "1")
    draft.rate(Severity.SEVERE, Urgency.IMMEDIATE, Certainty.OBSERVED)
    draft.response.append(ResponseType.EVACUATE)


def parse_flash(env: Envelope, draft: Draft) -> None:
    """府県気象防災速報: the 情報タグ says which flash it is."""
    draft.category = Category.MET
    tags = info_tags(env)
    for tag in tags:
        draft.param("infoTag", tag)
    _tag_areas(env, draft)
    _observations(env, draft)
    if any(LINEAR_RAINBAND in t for t in tags):
        draft.kind, draft.event = Kind.HEAVY_RAIN, "顕著な大雨に関する情報"
        draft.rate(Severity.SEVERE, Urgency.IMMEDIATE, Certainty.OBSERVED)
        draft.response.append(ResponseType.EVACUATE)
    elif any(t.startswith("記録") for t in tags):
        draft.kind, draft.event = Kind.HEAVY_RAIN, "記録的短時間大雨情報"
        draft.code(RAIN_CODE, "1")
        draft.rate(Severity.SEVERE, Urgency.IMMEDIATE, Certainty.OBSERVED)
        draft.response.append(ResponseType.EVACUATE)
    elif any(t.startswith("竜巻") for t in tags):
        draft.kind, draft.event = Kind.TORNADO, "竜巻注意情報"
        draft.rate(Severity.SEVERE, Urgency.IMMEDIATE, Certainty.LIKELY)
        draft.response.append(ResponseType.SHELTER)
    else:
        # 短時間大雪 and any tag added later: a weather flash, rated as a warning-level hazard.
        draft.kind, draft.event = Kind.WEATHER_WARNING, env.title
        draft.rate(Severity.MODERATE, Urgency.IMMEDIATE, Certainty.OBSERVED)


def is_significant_rain(env: Envelope) -> bool:
    """A 府県気象情報 that is the 顕著な大雨に関する情報 (fixed head title, or a 線状降水帯 tag)."""
    return env.head_title.startswith(SIGNIFICANT_RAIN_TITLE) or any(
        LINEAR_RAINBAND in t for t in info_tags(env)
    )


def parse_significant_rain(env: Envelope, draft: Draft) -> None:
    draft.category = Category.MET
    draft.kind, draft.event = Kind.HEAVY_RAIN, "顕著な大雨に関する情報"
    _tag_areas(env, draft)
    for info in every(env.headline, "Information"):
        for areas in every(info, "Item", "Areas"):
            for area in every(areas, "Area"):
                draft.area(text(area, "Name"), text(area, "Code"), attr(areas, "codeType"))
    for tag in info_tags(env):
        draft.param("infoTag", tag)
    draft.rate(Severity.SEVERE, Urgency.IMMEDIATE, Certainty.OBSERVED)
    draft.response.append(ResponseType.EVACUATE)
