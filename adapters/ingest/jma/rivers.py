"""指定河川洪水予報 (VXKOii) and 水位周知河川に関する情報 (VXSUii).

The kind codes rise with the flood 警戒レベル (2x 氾濫注意, 3x 氾濫警戒, 4x 氾濫危険, 5x 氾濫発生;
codes below 20 lift). Areas: the towns of the 浸水想定地区 where the telegram lists them, the river
and the forecast reach; the prefecture only when no town is named, since it is too coarse.
"""

from __future__ import annotations

import re

from adapters.ingest.jma.draft import CITY, FLOOD_CODE, FORECAST_AREA, RIVER, Draft, join
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.xmltools import attr, every, text
from broadcaster.model import Category, Certainty, Kind, ResponseType, Severity, Urgency

_LEVEL_PREFIX = re.compile(r"^レベル([1-5１-５])")
_FULLWIDTH = str.maketrans("１２３４５", "12345")
# 浸水想定地区 items (kind codes 1 and 2) list towns; other items carry the main text.
INUNDATION_CODES = frozenset({"1", "2"})

RATING = {
    5: (Severity.EXTREME, Urgency.IMMEDIATE, Certainty.OBSERVED, ResponseType.EVACUATE),
    4: (Severity.SEVERE, Urgency.IMMEDIATE, Certainty.LIKELY, ResponseType.EVACUATE),
    3: (Severity.SEVERE, Urgency.EXPECTED, Certainty.LIKELY, ResponseType.PREPARE),
    2: (Severity.MODERATE, Urgency.EXPECTED, Certainty.LIKELY, ResponseType.MONITOR),
}


def flood_level(code: str, name: str) -> int | None:
    """The level in force, or None for a lift or an item that is no flood kind.

    The code decides before the name: a lift (codes below 20) is named after what it lifts
    (「レベル２氾濫注意報解除」, code 10), so reading the name's level would announce the lifted
    advisory as in force."""
    if code.isdigit() and int(code) < 20:
        return None
    m = _LEVEL_PREFIX.match(name)
    if m:
        return int(m.group(1).translate(_FULLWIDTH))
    if code.isdigit() and 20 <= int(code) < 60:
        return int(code) // 10
    return None


def parse_flood(env: Envelope, draft: Draft) -> None:
    draft.category = Category.MET
    draft.kind = Kind.FLOOD
    draft.event = env.title
    levels: list[int] = []
    prefecture_areas: list[tuple[str, str]] = []
    lifted = False
    for info in every(env.headline, "Information"):
        for item in every(info, "Item"):
            code, name = text(item, "Kind", "Code"), text(item, "Kind", "Name")
            draft.code(FLOOD_CODE, code)
            level = flood_level(code, name)
            if level is not None:
                levels.append(level)
                draft.event = name
            elif code.isdigit():
                lifted = True
                draft.event = name or env.title
            draft.param("floodKind", join(code, name, text(item, "Kind", "Condition")))
            for areas in every(item, "Areas"):
                code_type = attr(areas, "codeType")
                for area in every(areas, "Area"):
                    if code_type == FORECAST_AREA:
                        prefecture_areas.append((text(area, "Name"), text(area, "Code")))
                    else:
                        draft.area(text(area, "Name"), text(area, "Code"), code_type)
                        draft.param("river" if code_type == RIVER else "floodArea", text(area, "Name"))
    towns = 0
    for warning in every(env.body, "Warning"):
        for item in every(warning, "Item"):
            kind_code = text(item, "Kind", "Code")
            for prop in every(item, "Kind", "Property"):
                if kind_code not in INUNDATION_CODES:
                    draft.text(text(prop, "Text"))
            for station in every(item, "Stations", "Station"):
                draft.param(
                    "station", join(text(station, "Code"), text(station, "Name"), text(station, "Location"))
                )
            if kind_code not in INUNDATION_CODES:
                continue
            for area in every(item, "Areas", "Area"):
                city_code, city = text(area, "CityCode"), text(area, "City")
                if city_code.strip("0"):
                    towns += 1
                    draft.area(city, city_code, CITY)
                    draft.param("inundation", join(city_code, city, text(area, "SubCityList")))
    if not towns:
        for name, code in prefecture_areas:
            draft.area(name, code, FORECAST_AREA)
    if levels:
        draft.level = max(levels)
        severity, urgency, certainty, response = RATING[draft.level if draft.level >= 2 else 2]
        draft.rate(severity, urgency, certainty)
        draft.response.append(response)
    elif lifted:
        draft.param("allLifted", "true")
        draft.rate(Severity.MINOR, Urgency.PAST, Certainty.OBSERVED)
        draft.response.append(ResponseType.ALL_CLEAR)
    else:
        draft.rate(Severity.MODERATE, Urgency.UNKNOWN, Certainty.UNKNOWN)
