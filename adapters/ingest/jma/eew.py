"""緊急地震速報: 警報 (VXSE43), 予報 (VXSE44), 地震動予報 (VXSE45) and 配信テスト (VXSE42).

The areas are the 地震情報／細分区域 the forecast names (the finest level EEW uses); the head's
府県予報区 and 地方予報区 are kept as parameters. Each area's forecast intensity range and the
expected arrival of the main shock (or 「既に主要動到達と推測」) are parameters too.
"""

from __future__ import annotations

from adapters.ingest.jma import hypocenter
from adapters.ingest.jma.draft import EEW_CODE, SEISMIC_AREA, Draft, join
from adapters.ingest.jma.earthquake import code_types
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.xmltools import attr, every, first, text
from broadcaster.model import Category, Certainty, Kind, ResponseType, Severity, Urgency

WARNING_TITLE = "緊急地震速報（警報）"
# Category/Kind codes of the 緊急地震速報 code table that mean 警報 for the area.
WARNING_AREA_CODES = frozenset({"10", "11", "19"})


def _forecast_rank(el_from: str, el_to: str) -> int:
    # "over" (「程度以上」) as upper bound: the lower bound is what is known.
    return max(hypocenter.intensity_rank(el_from), hypocenter.intensity_rank(el_to))


def parse_eew(env: Envelope, draft: Draft) -> None:
    draft.category = Category.GEO
    draft.kind = Kind.EEW
    draft.event = env.title
    body = env.body
    hypo = hypocenter.read(body)
    hypocenter.add(draft, hypo)
    forecast = first(body, "Intensity", "Forecast")
    types = code_types(forecast)
    area_type = types.get("Pref/Area/Code", SEISMIC_AREA)
    max_from, max_to = text(forecast, "ForecastInt", "From"), text(forecast, "ForecastInt", "To")
    draft.param("forecastIntensityFrom", max_from)
    draft.param("forecastIntensityTo", max_to)
    draft.param("forecastLgIntensityFrom", text(forecast, "ForecastLgInt", "From"))
    draft.param("forecastLgIntensityTo", text(forecast, "ForecastLgInt", "To"))
    warned = 0
    for pref in every(forecast, "Pref"):
        for area in every(pref, "Area"):
            code, name = text(area, "Code"), text(area, "Name")
            kind_code = text(area, "Category", "Kind", "Code")
            warned += kind_code in WARNING_AREA_CODES
            arrival = text(area, "ArrivalTime") or text(area, "Condition")
            draft.param(
                "areaForecast",
                join(
                    code,
                    name,
                    text(area, "ForecastInt", "From"),
                    text(area, "ForecastInt", "To"),
                    arrival,
                    kind_code,
                ),
            )
            draft.area(name, code, area_type)
    for info in every(env.headline, "Information"):
        for item in every(info, "Item"):
            kind_code = text(item, "Kind", "Code")
            draft.code(EEW_CODE, kind_code)
            for areas in every(item, "Areas"):
                code_type = attr(areas, "codeType")
                for area in every(areas, "Area"):
                    if code_type == area_type:
                        draft.area(text(area, "Name"), text(area, "Code"), code_type)
                    else:
                        draft.param("warningRegion", join(code_type, text(area, "Code"), text(area, "Name")))
    # JMA writes NextAdvisory only in the last report of an event.
    draft.param("final", "true" if first(body, "NextAdvisory") is not None else "false")
    hypocenter.comments(body, draft)

    rank = _forecast_rank(max_from, max_to)
    is_warning = env.title == WARNING_TITLE or warned > 0
    if rank >= hypocenter.intensity_rank("6-"):
        severity = Severity.EXTREME
    elif rank >= hypocenter.intensity_rank("5-") or is_warning:
        severity = Severity.SEVERE
    elif rank >= hypocenter.intensity_rank("4"):
        severity = Severity.MODERATE
    else:
        severity = Severity.MINOR
    draft.rate(severity, Urgency.IMMEDIATE, Certainty.LIKELY if is_warning else Certainty.POSSIBLE)
    if is_warning:
        draft.response.append(ResponseType.SHELTER)
