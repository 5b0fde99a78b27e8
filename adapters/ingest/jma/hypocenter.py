"""Body/Earthquake, shared by 地震情報, 緊急地震速報 and 津波 telegrams."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from adapters.ingest.jma.draft import EPICENTER, Draft
from adapters.ingest.jma.xmltools import Element, attr, every, first, text

# ISO 6709 as JMA writes it: "+37.5+137.2-10000/" (latitude, longitude, height in metres).
_COORD = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+)?/$")
# JMA's seismic intensity scale in its XML spelling, weakest first.
INTENSITIES = ("0", "1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")


def intensity_rank(value: str) -> int:
    """Position on the scale; -1 for absent or unknown values (e.g. "over", "不明")."""
    try:
        return INTENSITIES.index(value)
    except ValueError:
        return -1


@dataclass(frozen=True, slots=True)
class Hypocenter:
    origin_time: str
    name: str
    code: str
    # A quake abroad: JMA's 詳細震央地名 (「フィジー諸島」) beside the broad 震央地名 (「南太平洋」).
    detailed_name: str
    latitude: str
    longitude: str
    depth_km: str
    magnitude: str
    magnitude_type: str
    magnitude_text: str


def _coordinate(area: Element | None) -> tuple[str, str, str]:
    for coord in every(area, "Coordinate"):
        # A second coordinate in degrees and minutes (「震源位置（度分）」) repeats the first.
        if attr(coord, "type") not in ("", "震源位置（度）"):
            continue
        m = _COORD.match(text(coord))
        if m:
            lat, lon, height = m.groups()
            depth = str(abs(int(height)) // 1000) if height else ""
            return lat.lstrip("+"), lon.lstrip("+"), depth
    return "", "", ""


def read(body: Element | None) -> Hypocenter | None:
    quake = first(body, "Earthquake")
    if quake is None:
        return None
    area = first(quake, "Hypocenter", "Area")
    lat, lon, depth = _coordinate(area)
    magnitude_el = first(quake, "Magnitude")
    magnitude = text(magnitude_el)
    try:
        if math.isnan(float(magnitude)):
            magnitude = ""
    except ValueError:
        magnitude = ""
    return Hypocenter(
        origin_time=text(quake, "OriginTime"),
        name=text(area, "Name"),
        code=text(area, "Code"),
        detailed_name=text(area, "DetailedName"),
        latitude=lat,
        longitude=lon,
        depth_km=depth,
        magnitude=magnitude,
        magnitude_type=attr(magnitude_el, "type"),
        magnitude_text=attr(magnitude_el, "description") or attr(magnitude_el, "condition"),
    )


def add(draft: Draft, hypo: Hypocenter | None) -> None:
    if hypo is None:
        return
    draft.param("originTime", hypo.origin_time)
    draft.param("hypocenterName", hypo.name)
    draft.param("hypocenterCode", hypo.code)
    draft.param("hypocenterDetailedName", hypo.detailed_name)
    draft.param("hypocenterLatitude", hypo.latitude)
    draft.param("hypocenterLongitude", hypo.longitude)
    draft.param("hypocenterDepthKm", hypo.depth_km)
    draft.param("magnitude", hypo.magnitude)
    draft.param("magnitudeType", hypo.magnitude_type)
    draft.param("magnitudeText", hypo.magnitude_text)


def add_epicenter_area(draft: Draft, hypo: Hypocenter | None) -> None:
    """The epicentre as an area of its own (震央地名 code and a point), for telegrams without
    affected areas; no town's code matches it, a rule on distance can."""
    if hypo is None or not hypo.name:
        return
    circle = f"{hypo.latitude},{hypo.longitude} 0" if hypo.latitude and hypo.longitude else None
    draft.area(hypo.detailed_name or hypo.name, hypo.code, EPICENTER, circle=circle)


def comments(body: Element | None, draft: Draft) -> None:
    """Body/Comments: fixed comments (固定付加文) as code|text, free text into the description."""
    block = first(body, "Comments")
    if block is None:
        return
    for child in block:
        if not isinstance(child.tag, str):
            continue
        tag = child.tag.rsplit("}", 1)[-1]
        if tag in ("WarningComment", "ForecastComment", "VarComment"):
            body_text = text(child, "Text")
            draft.text(body_text)
            for code in text(child, "Code").split():
                draft.param("comment", code)
        elif tag == "FreeFormComment":
            draft.text(text(child))
    draft.text(text(body, "Text"))
