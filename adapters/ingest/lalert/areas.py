"""Commons locations (areaName, jisX0402, 大字町丁目コード, circle, polygon) as the model's Areas."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from adapters.ingest.lalert.namespaces import EDXL_DE, child_text
from broadcaster.model import DISTRICT_CODE, JIS_X0402, Area, NamedValue

_JIS = re.compile(r"^\d{6}$")
_DISTRICT = re.compile(r"^[0-9A-Za-z_-]{1,32}$")


@dataclass(frozen=True)
class Place:
    name: str | None
    municipality: str | None  # JIS X 0402, six digits with check digit
    district: str | None  # 大字町丁目コード, when the sender filled it in
    circle: str | None  # CAP form "lat,lon radius"
    polygon: str | None

    def lat_lon(self) -> tuple[str, str] | None:
        if self.circle is None:
            return None
        lat, rest = self.circle.split(",", 1)
        return lat, rest.split(" ", 1)[0]


def jis_code(value: str | None) -> str | None:
    return value if value is not None and _JIS.match(value) else None


def cap_circle(value: str | None) -> str | None:
    """EDXL/commons circles come as "lat,lon,radius" or "lat,lon radius"; CAP wants the latter."""
    if value is None:
        return None
    parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
    if len(parts) not in (2, 3):
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
        radius = float(parts[2]) if len(parts) == 3 else 0.0
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and radius >= 0):
        return None
    return f"{parts[0]},{parts[1]} {parts[2] if len(parts) == 3 else '0'}"


def cap_polygon(value: str | None) -> str | None:
    if value is None:
        return None
    pairs = value.split()
    # CAP: at least four points, the first and last the same.
    if len(pairs) < 4 or pairs[0] != pairs[-1]:
        return None
    for pair in pairs:
        try:
            lat_s, lon_s = pair.split(",")
            float(lat_s), float(lon_s)
        except ValueError:
            return None
    return value


def read_place(el: etree._Element | None) -> Place:
    """A commons location element: Location, Area, targetArea all share these children."""
    district = child_text(el, "ooAzaTyouTyouMokuCode")
    return Place(
        name=child_text(el, "areaName"),
        municipality=jis_code(child_text(el, "jisX0402")),
        district=district if district is not None and _DISTRICT.match(district) else None,
        circle=cap_circle(child_text(el, "circle", EDXL_DE)),
        polygon=cap_polygon(child_text(el, "polygon", EDXL_DE)),
    )


def to_area(place: Place, *, name: str | None = None, municipality: str | None = None) -> Area | None:
    """The model Area; the municipality code of the document stands in for a missing own one."""
    desc = name or place.name
    code = place.municipality or municipality
    if desc is None:
        if code is None:
            return None
        desc = code
    geocode = []
    if code is not None:
        geocode.append(NamedValue(value_name=JIS_X0402, value=code))
    if place.district is not None:
        geocode.append(NamedValue(value_name=DISTRICT_CODE, value=place.district))
    return Area(
        area_desc=desc,
        circle=(place.circle,) if place.circle else (),
        polygon=(place.polygon,) if place.polygon else (),
        geocode=tuple(geocode),
    )
