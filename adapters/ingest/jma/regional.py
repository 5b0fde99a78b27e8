"""National and regional information that names no town: 南海トラフ地震臨時情報 (VYSE50) and
関連解説情報 (VYSE51/52), 北海道・三陸沖後発地震注意情報 (VYSE60), 熱中症（特別）警戒アラート
(VPFT50), 台風の暴風域に入る確率 (VPTA), 全般台風情報 and the 全般/地方/府県 気象情報, 気象解説情報
and 潮位情報. Each is a kind of its own, and its areas are the prefectures it covers (scope.py).
"""

from __future__ import annotations

from adapters.ingest.jma import generic, scope
from adapters.ingest.jma.draft import Draft
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.xmltools import attr, every, first, text
from broadcaster.model import Category, Certainty, Kind, ResponseType, Severity, Urgency

# 南海トラフ地震臨時情報: the keyword JMA adds to the name (InfoSerial/Name) decides the rating.
NANKAI_RATING: dict[str, tuple[Severity, Urgency, Certainty, ResponseType]] = {
    "巨大地震警戒": (Severity.EXTREME, Urgency.IMMEDIATE, Certainty.POSSIBLE, ResponseType.EVACUATE),
    "巨大地震注意": (Severity.SEVERE, Urgency.EXPECTED, Certainty.POSSIBLE, ResponseType.PREPARE),
    "調査中": (Severity.MODERATE, Urgency.EXPECTED, Certainty.POSSIBLE, ResponseType.MONITOR),
    "調査終了": (Severity.MINOR, Urgency.PAST, Certainty.OBSERVED, ResponseType.ALL_CLEAR),
}


def _keyword(env: Envelope) -> str:
    name = text(first(env.body, "EarthquakeInfo", "InfoSerial"), "Name")
    if name:
        return name
    # A 取消 has no body: the keyword is in Head/Title, 「南海トラフ地震臨時情報（調査中）」.
    title = env.head_title
    return title[title.find("（") + 1 : title.rfind("）")] if "（" in title else ""


def parse_nankai(env: Envelope, draft: Draft) -> None:
    draft.category = Category.GEO
    draft.kind = Kind.NANKAI_TROUGH
    draft.event = env.head_title or env.title
    keyword = _keyword(env)
    draft.param("nankaiKeyword", keyword)
    severity, urgency, certainty, response = NANKAI_RATING.get(
        keyword, (Severity.MODERATE, Urgency.EXPECTED, Certainty.POSSIBLE, ResponseType.MONITOR)
    )
    draft.rate(severity, urgency, certainty)
    draft.response.append(response)
    scope.add_prefectures(draft, scope.NANKAI_TROUGH)
    generic.body_texts(env, draft)


def parse_nankai_commentary(env: Envelope, draft: Draft) -> None:
    draft.category = Category.GEO
    draft.kind = Kind.NANKAI_COMMENTARY
    draft.event = env.head_title or env.title
    draft.param("nankaiKeyword", text(first(env.body, "EarthquakeInfo", "InfoSerial"), "Name"))
    draft.rate(Severity.MINOR, Urgency.FUTURE, Certainty.POSSIBLE)
    draft.response.append(ResponseType.MONITOR)
    scope.add_prefectures(draft, scope.NANKAI_TROUGH)
    generic.body_texts(env, draft)


def parse_subsequent_quake(env: Envelope, draft: Draft) -> None:
    draft.category = Category.GEO
    draft.kind = Kind.SUBSEQUENT_QUAKE
    draft.event = env.head_title or env.title
    draft.rate(Severity.SEVERE, Urgency.EXPECTED, Certainty.POSSIBLE)
    draft.response.append(ResponseType.PREPARE)
    scope.add_prefectures(draft, scope.JAPAN_TRENCH)
    generic.body_texts(env, draft)


def parse_heat(env: Envelope, draft: Draft) -> None:
    draft.category = Category.HEALTH
    draft.kind = Kind.HEAT
    draft.event = env.head_title or env.title
    special = "特別警戒" in env.head_title
    draft.param("heatSpecial", "true" if special else "false")
    draft.rate(Severity.SEVERE if special else Severity.MODERATE, Urgency.EXPECTED, Certainty.LIKELY)
    draft.response.append(ResponseType.PREPARE)
    scope.add_prefectures(draft, scope.prefectures_in(env.head_title))
    generic.body_texts(env, draft)


def parse_weather_info(env: Envelope, draft: Draft) -> None:
    """全般/地方/府県 気象情報, 気象解説情報 and 潮位情報: the nation, the region, the prefecture."""
    draft.category = Category.MET
    draft.kind = Kind.WEATHER_INFO
    draft.event = env.head_title or env.title
    draft.rate(Severity.MINOR, Urgency.EXPECTED, Certainty.POSSIBLE)
    draft.response.append(ResponseType.MONITOR)
    if env.title.startswith("全般"):
        scope.add_nation(draft)
    else:
        scope.add_prefectures(draft, scope.prefectures_in(env.head_title))
    generic.head_areas(env, draft)
    generic.body_texts(env, draft)


def parse_typhoon_summary(env: Envelope, draft: Draft) -> None:
    """全般台風情報: the nation's account of a typhoon, in words, for every town."""
    from adapters.ingest.jma.typhoon import parse_typhoon

    parse_typhoon(env, draft)
    scope.add_nation(draft)


def parse_typhoon_probability(env: Envelope, draft: Draft) -> None:
    """台風の暴風域に入る確率: per forecast area, the chance of being inside the storm zone.

    Written to JMA's published structure (MeteorologicalInfo per day, TimeSeriesInfo/Item/Area
    with a typed Code); the corpus has no sample of this type.
    """
    draft.category = Category.MET
    draft.kind = Kind.TYPHOON_PROBABILITY
    draft.event = env.head_title or env.title
    draft.rate(Severity.MODERATE, Urgency.FUTURE, Certainty.POSSIBLE)
    draft.response.append(ResponseType.PREPARE)
    for area in every(env.body, "MeteorologicalInfos", "TimeSeriesInfo", "Item", "Area"):
        code_el = first(area, "Code")
        if attr(code_el, "type"):
            draft.area(text(area, "Name"), text(code_el), attr(code_el, "type"))
    generic.head_areas(env, draft)
    generic.body_texts(env, draft)
