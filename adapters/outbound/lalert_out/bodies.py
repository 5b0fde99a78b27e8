"""The commons bodies the town publishes: EvacuationOrder and Shelter, built from an Info block.

An Info that came out of the L-Alert parser carries numbered order/shelter parameters; they are
used as they are, so a parsed document rebuilds into the same orders. A town's own alert from the
console carries a level and areas; that becomes one order over all its areas.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from adapters.ingest.lalert import vocabulary as v
from adapters.ingest.lalert.namespaces import COMMONS, EDXL_DE, PCX_EB, PCX_EV, PCX_SH
from broadcaster.errors import PermanentError
from broadcaster.model import DISTRICT_CODE, JIS_X0402, LEVEL, Area, Info, ResponseType


def sub(parent: etree._Element, ns: str, name: str, text: str | int | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        el.text = str(text)
    return el


def _edxl_circle(area: Area) -> str | None:
    # CAP "lat,lon radius" → the commons' "lat,lon,radius".
    if not area.circle:
        return None
    point, _, radius = area.circle[0].partition(" ")
    return f"{point},{radius or '0'}"


def location(parent: etree._Element, ns: str, area: Area, municipality: str) -> etree._Element:
    loc = sub(parent, ns, "Location")
    circle = _edxl_circle(area)
    if circle:
        sub(loc, EDXL_DE, "circle", circle)
    sub(loc, COMMONS, "areaName", area.area_desc)
    codes = area.codes(JIS_X0402)
    sub(loc, COMMONS, "jisX0402", codes[0] if codes else municipality)
    # Only a numeric district id can be a 大字町丁目コード; a tenant's own district names are not.
    district = next((c for c in area.codes(DISTRICT_CODE) if c.isdigit()), None)
    if district:
        sub(loc, COMMONS, "ooAzaTyouTyouMokuCode", district)
    return loc


def _counts(parent: etree._Element, ns: str, name: str, households: str | None, head: str | None) -> None:
    if households is None and head is None:
        return
    obj = sub(parent, ns, name)
    if households is not None:
        sub(obj, ns, "Households", households).set(f"{{{ns}}}unit", "世帯")
    if head is not None:
        sub(obj, ns, "HeadCount", head)


def is_lifted(info: Info) -> bool:
    return info.param(v.P_ISSUE_OR_LIFT) == v.LIFT or ResponseType.ALL_CLEAR in info.response_type


@dataclass(frozen=True)
class _Order:
    sort: str
    lifted: bool
    areas: tuple[int, ...]  # 1-based indexes into info.area
    households: str | None
    head_count: str | None


def _orders(info: Info) -> Iterator[_Order]:
    if info.param(v.p_order(1, "sort")) is not None:
        index = {a.area_desc: m for m, a in enumerate(info.area, start=1)}
        n = 1
        while (sort := info.param(v.p_order(n, "sort"))) is not None:
            names = (info.param(v.p_order(n, "areas")) or "").split(v.AREA_LIST_SEPARATOR)
            yield _Order(
                sort=sort,
                lifted=info.param(v.p_order(n, "issueOrLift")) == v.LIFT,
                areas=tuple(index[name] for name in names if name in index),
                households=info.param(v.p_order(n, "households")),
                head_count=info.param(v.p_order(n, "headCount")),
            )
            n += 1
        return
    level_text = info.param(LEVEL)
    level = int(level_text) if level_text is not None and level_text.isdigit() else None
    if level not in v.LEVEL_LABELS:
        level = v.classify_sort(info.event).level
    if level not in v.LEVEL_LABELS:
        raise PermanentError(
            f"an evacuation order needs level 3, 4 or 5; got {level_text!r} / {info.event!r}"
        )
    yield _Order(
        sort=v.LEVEL_LABELS[level],
        lifted=is_lifted(info),
        areas=tuple(range(1, len(info.area) + 1)),
        households=info.param(v.P_HOUSEHOLDS),
        head_count=info.param(v.P_HEAD_COUNT),
    )


def evacuation(report: etree._Element, info: Info, *, municipality: str, since: str) -> list[str]:
    """The EvacuationOrder body; returns one summary line per order for contentDescription."""
    orders = list(_orders(info))  # before any element exists: a refusal leaves `report` untouched
    body = sub(report, PCX_EV, "EvacuationOrder")
    disaster = info.param(v.P_DISASTER)
    if disaster:
        sub(sub(body, PCX_EB, "Disaster"), PCX_EB, "DisasterName", disaster)
    _counts(body, PCX_EV, "TotalNumber", info.param(v.P_HOUSEHOLDS), info.param(v.P_HEAD_COUNT))
    lines = []
    for order in orders:
        detail = sub(body, PCX_EV, "Detail")
        sub(detail, PCX_EV, "Sort", order.sort)
        sub(detail, PCX_EV, "IssueOrLift", v.LIFT if order.lifted else v.ISSUE)
        _counts(detail, PCX_EV, "Object", order.households, order.head_count)
        areas_el = sub(detail, PCX_EV, "Areas")
        for m in order.areas:
            area = info.area[m - 1]
            area_el = sub(areas_el, PCX_EV, "Area")
            location(area_el, PCX_EB, area, municipality)
            sub(area_el, PCX_EV, "DateTime", info.param(v.p_area(m, "since")) or since)
            _counts(
                area_el,
                PCX_EV,
                "Object",
                info.param(v.p_area(m, "households")),
                info.param(v.p_area(m, "headCount")),
            )
        names = v.AREA_LIST_SEPARATOR.join(info.area[m - 1].area_desc for m in order.areas)
        lines.append(f"{order.sort} {v.LIFT if order.lifted else v.ISSUE} ({names})")
    return lines


_SHELTER_FIELDS = (
    "phone",
    "address",
    "type",
    "status",
    "dateTime",
    "capacity",
    "crowding",
    "households",
    "headCount",
)


def shelter(report: etree._Element, info: Info, *, since: str) -> list[str]:
    """The Shelter body: one Information per area, with the per-shelter parameters where given."""
    body = sub(report, PCX_SH, "Shelter")
    disaster = info.param(v.P_DISASTER)
    if disaster:
        sub(sub(body, PCX_EB, "Disaster"), PCX_EB, "DisasterName", disaster)
    head, households = info.param(v.P_HEAD_COUNT), info.param(v.P_HOUSEHOLDS)
    if head is not None or households is not None:
        total = sub(body, PCX_SH, "TotalNumber")
        if head is not None:
            sub(total, PCX_SH, "HeadCount", head)
        if households is not None:
            sub(total, PCX_SH, "Households", households).set(f"{{{PCX_SH}}}unit", "世帯")
    sub(body, PCX_SH, "TotalNumberOfShelter", len(info.area))
    default_state = v.SHELTER_CLOSED if is_lifted(info) else "開設"
    listed = sub(body, PCX_SH, "Informations")
    lines = []
    for n, area in enumerate(info.area, start=1):
        p = {f: info.param(v.p_shelter(n, f)) for f in _SHELTER_FIELDS}
        item = sub(listed, PCX_SH, "Information")
        loc = sub(item, PCX_SH, "Location")
        circle = _edxl_circle(area)
        if circle:
            sub(loc, EDXL_DE, "circle", circle)
        sub(loc, COMMONS, "areaName", area.area_desc)
        if p["phone"]:
            sub(loc, PCX_EB, "ContactInfo", p["phone"]).set(f"{{{PCX_EB}}}contactType", "phone")
        if p["address"]:
            sub(loc, PCX_SH, "Address", p["address"])
        if p["type"]:
            sub(item, PCX_SH, "Type", p["type"])
        state = p["status"] or default_state
        sub(item, PCX_SH, "Sort", state)
        sub(item, PCX_SH, "DateTime", p["dateTime"] or since)
        if p["capacity"]:
            sub(item, PCX_SH, "Capacity", p["capacity"])
        if p["crowding"]:
            sub(item, PCX_SH, "Status", p["crowding"])
        _counts(item, PCX_SH, "NumberOf", p["households"], p["headCount"])
        lines.append(f"{area.area_desc} {state}")
    return lines
