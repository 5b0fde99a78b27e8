"""避難所情報 (Shelter): the municipality's list of shelters with their state.

Each shelter becomes one Area (its name, its location as a zero-radius circle, the municipality's
code) and a numbered group of parameters; area M and shelter M are the same place.
"""

from __future__ import annotations

from lxml import etree

from adapters.ingest.lalert import vocabulary as v
from adapters.ingest.lalert.areas import read_place, to_area
from adapters.ingest.lalert.facts import BodyFacts, Context, count, disaster_name
from adapters.ingest.lalert.namespaces import child, child_text, children
from broadcaster.model import Area, Certainty, ResponseType, Severity, Urgency


def read_shelter(body: etree._Element, ctx: Context) -> BodyFacts:
    facts = BodyFacts(event=v.CATEGORY_EVENTS["Shelter"])
    facts.param(v.P_DISASTER, disaster_name(body))
    total = child(body, "TotalNumber")
    facts.param(v.P_HOUSEHOLDS, count(child_text(total, "Households")))
    facts.param(v.P_HEAD_COUNT, count(child_text(total, "HeadCount")))
    facts.param(v.P_SHELTER_COUNT, count(child_text(body, "TotalNumberOfShelter")))

    listed = child(body, "Informations")
    areas: list[Area] = []
    states: list[str] = []
    for info in children(listed, "Information") if listed is not None else ():
        location = child(info, "Location")
        place = read_place(location)
        name = place.name or child_text(info, "Name")
        address = child_text(location, "Address") or child_text(info, "Address")
        area = to_area(
            place, name=name or address or f"避難所{len(areas) + 1}", municipality=ctx.municipality
        )
        if area is None:  # unreachable: a name is always given above
            continue
        areas.append(area)
        n = len(areas)
        state = child_text(info, "Sort")
        capacity = count(child_text(info, "Capacity"))
        number = child(info, "NumberOf")
        head_count = count(child_text(number, "HeadCount"))
        facts.param(v.p_shelter(n, "name"), area.area_desc)
        facts.param(v.p_shelter(n, "status"), state)
        facts.param(v.p_shelter(n, "type"), child_text(info, "Type"))
        facts.param(v.p_shelter(n, "capacity"), capacity)
        facts.param(v.p_shelter(n, "address"), address)
        lat_lon = place.lat_lon()
        if lat_lon is not None:
            facts.param(v.p_shelter(n, "lat"), lat_lon[0])
            facts.param(v.p_shelter(n, "lon"), lat_lon[1])
        facts.param(v.p_shelter(n, "phone"), child_text(location, "ContactInfo"))
        facts.param(v.p_shelter(n, "dateTime"), child_text(info, "DateTime"))
        facts.param(v.p_shelter(n, "crowding"), child_text(info, "Status"))
        facts.param(v.p_shelter(n, "headCount"), head_count)
        facts.param(v.p_shelter(n, "households"), count(child_text(number, "Households")))
        if state:
            states.append(state)
        line = f"{area.area_desc}: {state or '状況不明'}"
        if capacity is not None:
            line += f"（収容人数 {capacity}人）"
        if address:
            line += f" {address}"
        facts.summary.append(line)

    opened = any(s in v.SHELTER_OPEN for s in states)
    if opened:
        facts.event = "避難所開設"
        facts.grade(Urgency.EXPECTED, Severity.MODERATE, Certainty.OBSERVED)
    elif states and all(s == v.SHELTER_CLOSED for s in states):
        facts.event = "避難所閉鎖"
        facts.grade(Urgency.PAST, Severity.MINOR, Certainty.OBSERVED)
        facts.response = (ResponseType.ALL_CLEAR,)
    complementary = child_text(body, "ComplementaryInfo")
    if complementary:
        facts.summary.append(complementary)
    facts.areas = tuple(areas) if areas else None
    return facts
