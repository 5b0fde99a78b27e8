"""津波: 津波警報・注意報・予報 (VTSE41), 津波情報 (VTSE51) and 沖合の津波観測に関する情報 (VTSE52).

One area per 津波予報区 the telegram names with a kind other than 津波なし (lifts included, so
that a lift reaches the coast that was warned). Per area the kind, first-wave arrival and
expected maximum height; per tide station the high-tide time, arrival and observed heights.
"""

from __future__ import annotations

from adapters.ingest.jma import hypocenter
from adapters.ingest.jma.draft import TIDE_STATION, TSUNAMI_AREA, TSUNAMI_CODE, Draft, join
from adapters.ingest.jma.earthquake import code_types
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.xmltools import Element, attr, every, first, text
from broadcaster.model import Category, Certainty, Kind, ResponseType, Severity, Urgency

NONE = "00"
LIFTS = frozenset({"50", "60"})
# Kind code → (rank, severity, urgency, response) for the 津波警報・注意報・予報 code table.
KINDS: dict[str, tuple[int, Severity, Urgency, ResponseType | None]] = {
    "52": (5, Severity.EXTREME, Urgency.IMMEDIATE, ResponseType.EVACUATE),
    "53": (5, Severity.EXTREME, Urgency.IMMEDIATE, ResponseType.EVACUATE),
    "51": (4, Severity.SEVERE, Urgency.IMMEDIATE, ResponseType.EVACUATE),
    "62": (3, Severity.MODERATE, Urgency.IMMEDIATE, ResponseType.AVOID),
    "71": (2, Severity.MINOR, Urgency.EXPECTED, None),
    "72": (2, Severity.MINOR, Urgency.EXPECTED, None),
    "73": (2, Severity.MINOR, Urgency.EXPECTED, None),
}
# 「大津波警報：発表」 is the same warning as 「大津波警報」, named as in the head.
EVENT_NAMES = {"53": "大津波警報"}


def _first_wave(el: Element | None) -> str:
    return text(el, "FirstHeight", "ArrivalTime") or text(el, "FirstHeight", "Condition")


def _height(el: Element | None, part: str) -> str:
    """The height in JMA's own words: its description (５ｍ, 巨大, 高い), else its condition
    (不明), never the placeholder value NaN that JMA writes when the height is unknown."""
    height = first(el, part, "TsunamiHeight")
    if height is not None:
        value = text(height)
        return attr(height, "description") or attr(height, "condition") or ("" if value == "NaN" else value)
    return text(el, part, "Condition")


def _forecast(block: Element, draft: Draft, codes_in_force: dict[str, str]) -> None:
    area_type = code_types(block).get("Item/Area/Code", TSUNAMI_AREA)
    for item in every(block, "Item"):
        code, name = text(item, "Area", "Code"), text(item, "Area", "Name")
        kind_code = text(item, "Category", "Kind", "Code")
        kind_name = text(item, "Category", "Kind", "Name")
        if kind_code and kind_code != NONE:
            draft.area(name, code, area_type)
            codes_in_force.setdefault(kind_code, kind_name)
            draft.param(
                "tsunamiArea",
                join(
                    code,
                    name,
                    kind_code,
                    kind_name,
                    text(item, "Category", "LastKind", "Code"),
                    _first_wave(item),
                    _height(item, "MaxHeight"),
                ),
            )
        for station in every(item, "Station"):
            draft.param(
                "tsunamiStation",
                join(
                    code,
                    text(station, "Code"),
                    text(station, "Name"),
                    text(station, "HighTideDateTime"),
                    _first_wave(station),
                ),
            )


def _observation(block: Element, draft: Draft) -> None:
    for item in every(block, "Item"):
        for station in every(item, "Station"):
            draft.param(
                "tsunamiObserved",
                join(
                    text(item, "Area", "Code"),
                    text(station, "Code"),
                    text(station, "Name"),
                    _first_wave(station),
                    text(station, "FirstHeight", "Initial"),
                    _height(station, "MaxHeight"),
                    text(station, "MaxHeight", "DateTime"),
                ),
            )


def _estimation(block: Element, draft: Draft) -> None:
    area_type = code_types(block).get("Item/Area/Code", TSUNAMI_AREA)
    for item in every(block, "Item"):
        code, name = text(item, "Area", "Code"), text(item, "Area", "Name")
        draft.area(name, code, area_type)
        draft.param(
            "tsunamiEstimated",
            join(
                code, name, _first_wave(item), _height(item, "MaxHeight"), text(item, "MaxHeight", "DateTime")
            ),
        )


def parse_tsunami(env: Envelope, draft: Draft) -> None:
    draft.category = Category.GEO
    draft.kind = Kind.TSUNAMI
    body = env.body
    hypocenter.add(draft, hypocenter.read(body))
    tsunami = first(body, "Tsunami")
    in_force: dict[str, str] = {}
    for block in every(tsunami, "Forecast"):
        _forecast(block, draft, in_force)
    for block in every(tsunami, "Observation"):
        _observation(block, draft)
    estimated = every(tsunami, "Estimation")
    for block in estimated:
        _estimation(block, draft)
    if not draft.areas:
        # Offshore observations (VTSE52) name tide stations in the head only.
        for info in every(env.headline, "Information"):
            for areas in every(info, "Item", "Areas"):
                code_type = attr(areas, "codeType") or TIDE_STATION
                for area in every(areas, "Area"):
                    draft.area(text(area, "Name"), text(area, "Code"), code_type)
    hypocenter.comments(body, draft)

    for code in in_force:
        draft.code(TSUNAMI_CODE, code)
    graded = sorted((KINDS[c] + (c,) for c in in_force if c in KINDS), key=lambda k: k[0], reverse=True)
    title = env.title.rstrip("a")
    if graded:
        _, severity, urgency, response, top = graded[0]
        draft.rate(severity, urgency, Certainty.LIKELY)
        if response is not None:
            draft.response.append(response)
        draft.event = EVENT_NAMES.get(top, in_force[top]) if title.startswith("津波警報") else title
        draft.param("tsunamiKinds", ",".join(in_force[g[-1]] for g in graded))
    elif estimated:
        draft.rate(Severity.SEVERE, Urgency.IMMEDIATE, Certainty.OBSERVED)
        draft.response.append(ResponseType.EVACUATE)
        draft.event = title
    elif in_force.keys() & LIFTS:
        draft.rate(Severity.MINOR, Urgency.PAST, Certainty.OBSERVED)
        draft.response.append(ResponseType.ALL_CLEAR)
        draft.param("allLifted", "true")
        draft.event = "津波警報・注意報解除" if title.startswith("津波警報") else title
    else:
        draft.rate(Severity.MINOR, Urgency.UNKNOWN, Certainty.UNKNOWN)
        draft.event = title
