"""台風情報: 台風解析・予報情報 (VPTW40–62) and 全般台風情報 (VPTI50–52).

Typhoon telegrams name no municipality: the alert carries the analysed centre as a circle (with
the 暴風域 radius where one is given) and the storm's facts as parameters; which towns it
concerns is for rules on position, or for the 警報 that follow.
"""

from __future__ import annotations

import re

from adapters.ingest.jma.draft import Draft
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.xmltools import Element, attr, every, first, text
from broadcaster.model import Category, Certainty, Kind, Severity, Urgency

_COORD = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)/$")
_NAUTICAL_MILE_KM = 1.852
STRONG = frozenset({"非常に強い", "猛烈な"})


def _current(body: Element | None) -> Element | None:
    # The first MeteorologicalInfo is the analysis (実況/推定); the others are forecasts.
    return first(body, "MeteorologicalInfos", "MeteorologicalInfo")


def _centre(prop: Element) -> tuple[str, str] | None:
    for coord in every(prop, "CenterPart", "Coordinate"):
        m = _COORD.match(text(coord))
        if m:
            return m.group(1).lstrip("+"), m.group(2).lstrip("+")
    return None


def _storm_radius_km(current: Element | None) -> float:
    """Largest radius of the 暴風域 (each area part sits in a Property of its own)."""
    radii = [0.0]
    for part in every(current, "Item", "Kind", "Property", "WarningAreaPart"):
        if attr(part, "type") != "暴風域":
            continue
        for radius in every(part, "Circle", "Axes", "Axis", "Radius"):
            try:
                value = float(text(radius))
            except ValueError:
                continue
            radii.append(value * _NAUTICAL_MILE_KM if attr(radius, "unit") == "海里" else value)
    return max(radii)


def parse_typhoon(env: Envelope, draft: Draft) -> None:
    draft.category = Category.MET
    draft.kind = Kind.TYPHOON
    draft.event = "台風情報"
    current = _current(env.body)
    draft.param("analysisTime", text(current, "DateTime"))
    intensity = ""
    for prop in every(current, "Item", "Kind", "Property"):
        name = first(prop, "TyphoonNamePart")
        if name is not None:
            draft.param("typhoonName", text(name, "Name"))
            draft.param("typhoonNameKana", text(name, "NameKana"))
            draft.param("typhoonNumber", text(name, "Number"))
        classes = first(prop, "ClassPart")
        if classes is not None:
            draft.param("typhoonClass", text(classes, "TyphoonClass"))
            draft.param("areaClass", text(classes, "AreaClass"))
            intensity = text(classes, "IntensityClass")
            draft.param("intensityClass", intensity)
        centre = first(prop, "CenterPart")
        if centre is not None:
            draft.param("centerLocation", text(centre, "Location"))
            draft.param("centralPressureHpa", text(centre, "Pressure"))
            draft.param("movingDirection", text(centre, "Direction"))
            draft.param("movingSpeed", attr(first(centre, "Speed"), "description"))
            point = _centre(prop)
            if point is not None:
                radius = _storm_radius_km(current)
                draft.area("台風中心", "", "", circle=f"{point[0]},{point[1]} {radius:.0f}")
        for wind in every(prop, "WindPart", "WindSpeed"):
            if attr(wind, "type") == "最大風速":
                draft.param("maxWind", join_wind(wind))
                break
    for comment in every(env.body, "Comment", "Text"):
        draft.text(text(comment))
    severity = Severity.SEVERE if intensity in STRONG else Severity.MODERATE
    draft.rate(severity, Urgency.FUTURE, Certainty.LIKELY)


def join_wind(wind: Element) -> str:
    return f"{text(wind)} {attr(wind, 'unit')}".strip()
