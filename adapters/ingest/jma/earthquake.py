"""地震情報: 震度速報 (VXSE51), 震源に関する情報 (VXSE52), 震源・震度に関する情報 (VXSE53),
長周期地震動に関する観測情報 (VXSE62) and 顕著な地震の震源要素更新のお知らせ (VXSE61).

Areas are the finest level observed: towns (市町村等) where the telegram lists them, otherwise
the 地震情報／細分区域. A town whose intensity has not come in (「震度５弱以上未入電」) is kept:
it is the town most likely hit hardest. Its value is the condition even when a lower reading
came in beside it (富士市 with 震度4 from one meter and another silent): JMA writes the condition
only when the silent meter is believed to be at 5弱 or more, so for rules and text it counts as
at least 5弱, never as the lower figure (docs/jma.md, *Parameters*).
"""

from __future__ import annotations

from adapters.ingest.jma import hypocenter
from adapters.ingest.jma.draft import CITY, SEISMIC_AREA, Draft, join
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.xmltools import Element, attr, every, first, text
from broadcaster.model import Category, Certainty, Kind, ResponseType, Severity, Urgency

LG_INTENSITIES = ("0", "1", "2", "3", "4")
# 「震度５弱以上未入電」: JMA's condition for a town (or area) whose meter has not reported but is
# believed to have felt 5弱 or more.
UNREPORTED = "震度５弱以上未入電"


def _reading(element: Element) -> tuple[tuple[str, ...], bool]:
    """(the intensity fields of a parameter, whether a meter is silent at 5弱 or more).

    MaxInt, or the condition followed by the lower reading (「震度５弱以上未入電」, 「4」) when
    JMA gives both."""
    max_int, condition = text(element, "MaxInt"), text(element, "Condition")
    if not condition:
        return (max_int,), False
    return ((condition, max_int) if max_int else (condition,)), condition == UNREPORTED


def code_types(observation: Element | None) -> dict[str, str]:
    """CodeDefine: the code table of each Code element, by its path below Observation."""
    return {attr(t, "xpath"): text(t) for t in every(observation, "CodeDefine", "Type")}


def rate_intensity(draft: Draft, max_int: str) -> None:
    rank = hypocenter.intensity_rank(max_int)
    if rank >= hypocenter.intensity_rank("6-"):
        draft.rate(Severity.EXTREME, Urgency.IMMEDIATE, Certainty.OBSERVED)
    elif rank >= hypocenter.intensity_rank("5-"):
        draft.rate(Severity.SEVERE, Urgency.IMMEDIATE, Certainty.OBSERVED)
    elif rank >= hypocenter.intensity_rank("4"):
        draft.rate(Severity.MODERATE, Urgency.PAST, Certainty.OBSERVED)
    else:
        draft.rate(Severity.MINOR, Urgency.PAST, Certainty.OBSERVED)
    if rank >= hypocenter.intensity_rank("5-"):
        draft.response.append(ResponseType.ASSESS)


def _observation(observation: Element, draft: Draft) -> bool:
    """Areas and intensities; true when some town or area has a silent meter at 5弱 or more."""
    types = code_types(observation)
    area_type = types.get("Pref/Area/Code", SEISMIC_AREA)
    city_type = types.get("Pref/Area/City/Code", CITY)
    cities = every(observation, "Pref", "Area", "City")
    silent = False
    for pref in every(observation, "Pref"):
        # Prefectures are parameters, never areas: too coarse to match a town by.
        draft.param("prefIntensity", join(text(pref, "Code"), text(pref, "Name"), text(pref, "MaxInt")))
        for area in every(pref, "Area"):
            code, name = text(area, "Code"), text(area, "Name")
            value, unreported = _reading(area)
            silent = silent or unreported
            draft.param("areaIntensity", join(code, name, *value))
            lg = text(area, "MaxLgInt")
            if lg:
                draft.param("areaLgIntensity", join(code, name, lg))
            if not cities:
                draft.area(name, code, area_type)
            for city in every(area, "City"):
                city_code, city_name = text(city, "Code"), text(city, "Name")
                value, unreported = _reading(city)
                silent = silent or unreported
                draft.param("cityIntensity", join(city_code, city_name, *value))
                draft.area(city_name, city_code, city_type)
    return silent


def parse_earthquake(env: Envelope, draft: Draft) -> None:
    draft.category = Category.GEO
    draft.kind = Kind.EARTHQUAKE
    draft.event = env.title
    body = env.body
    hypo = hypocenter.read(body)
    hypocenter.add(draft, hypo)
    observation = first(body, "Intensity", "Observation")
    max_int = text(observation, "MaxInt")
    max_lg = text(observation, "MaxLgInt")
    draft.param("maxIntensity", max_int)
    draft.param("maxLgIntensity", max_lg)
    draft.param("lgCategory", text(observation, "LgCategory"))
    silent = observation is not None and _observation(observation, draft)
    if not draft.areas:
        hypocenter.add_epicenter_area(draft, hypo)
    hypocenter.comments(body, draft)
    if max_lg and not max_int:
        rate_lg(draft, max_lg)
    else:
        # A silent meter at 5弱 or more rates the telegram as at least 5弱 (the worst case).
        floor = (
            "5-" if silent and hypocenter.intensity_rank(max_int) < hypocenter.intensity_rank("5-") else ""
        )
        rate_intensity(draft, floor or max_int)
    if max_lg and max_int:
        # 長周期地震動 class 3–4 is grave on its own (tall buildings) even under a moderate 震度.
        lg_rank = LG_INTENSITIES.index(max_lg) if max_lg in LG_INTENSITIES else -1
        if lg_rank >= 3 and draft.severity in (Severity.MINOR, Severity.MODERATE):
            draft.rate(Severity.SEVERE, Urgency.IMMEDIATE, Certainty.OBSERVED)


def rate_lg(draft: Draft, max_lg: str) -> None:
    rank = LG_INTENSITIES.index(max_lg) if max_lg in LG_INTENSITIES else -1
    severity = {4: Severity.EXTREME, 3: Severity.SEVERE, 2: Severity.MODERATE}.get(rank, Severity.MINOR)
    urgency = Urgency.IMMEDIATE if rank >= 3 else Urgency.PAST
    draft.rate(severity, urgency, Certainty.OBSERVED)
