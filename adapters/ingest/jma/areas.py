"""Which geocodes cover a municipality, in the code tables JMA telegrams use.

A tenant declares its JMA 市町村等 code (穴水町: 1746100); the area matcher asks expand_city for
every (codeType, code) under which a telegram could name that town, and matches an alert when any
of its areas carries one of them. The relations come from data/areas.json, generated from JMA's
code tables by scripts/gen_jma_areas.py (出典：気象庁).

津波予報区 come from data/tsunami_coasts.json instead (scripts/gen_tsunami_coasts.py,
docs/tsunami-coasts.md): only a coastal municipality is covered by a tsunami forecast region, and
only by the regions of its own coast (docs/decisions.md, decision 9).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from adapters.ingest.jma.draft import (
    CITY,
    COAST_AREA,
    EEW_PREF,
    EEW_REGION,
    FORECAST_AREA,
    SEISMIC_AREA,
    SEISMIC_PREF,
    TSUNAMI_AREA,
)
from broadcaster.model import JIS_X0402, NamedValue

# JIS X 0402 check digit weights for the five digits of a municipality code.
_JIS_WEIGHTS = (6, 5, 4, 3, 2)


@cache
def _table() -> dict[str, Any]:
    raw = resources.files("adapters.ingest.jma").joinpath("data", "areas.json").read_text("utf-8")
    cities: dict[str, Any] = json.loads(raw)["cities"]
    return cities


@cache
def _coasts() -> dict[str, Any]:
    raw = resources.files("adapters.ingest.jma").joinpath("data", "tsunami_coasts.json").read_text("utf-8")
    coasts: dict[str, Any] = json.loads(raw)
    return coasts


def tsunami_regions(code: str) -> list[str]:
    """The 津波予報区 of a municipality's own coast; [] inland. A ward has its city's."""
    entry = _coasts()["cities"].get(code)
    return list(entry["regions"]) if entry else []


def tsunami_codes(regions: list[str]) -> list[str]:
    """The regions and every 結合表現 / 領域表現 made of one of them (head lines use those)."""
    groups: dict[str, list[str]] = _coasts()["groups"]
    return [*regions, *sorted(g for g, members in groups.items() if set(members) & set(regions))]


def jis_x0402(city_code: str) -> str:
    """The 6-digit JIS X 0402 code (with check digit) of a 7-digit JMA 市町村等 code."""
    digits = city_code[:5]
    total = sum(int(d) * w for d, w in zip(digits, _JIS_WEIGHTS, strict=True))
    return digits + str((11 - total % 11) % 10)


def city_name(code: str) -> str | None:
    entry = _table().get(code)
    return str(entry["name"]) if entry else None


def expand_city(code: str) -> list[NamedValue]:
    """Every geocode covering the JMA 市町村等 ``code``; [] for a code JMA does not know.

    For a ward of a designated city the city's own codes are included (warnings name the city,
    earthquake information the ward). 津波予報区 only for a coastal municipality, its own
    coast's (docs/tsunami-coasts.md).
    """
    table = _table()
    entry = table.get(code)
    if entry is None:
        return []
    out: list[NamedValue] = []
    seen: set[tuple[str, str]] = set()

    def add(value_name: str, value: str) -> None:
        if value and (value_name, value) not in seen:
            seen.add((value_name, value))
            out.append(NamedValue(value_name=value_name, value=value))

    add(CITY, code)
    parent = entry.get("parent")
    if parent:
        add(CITY, parent)
    for forecast in entry["forecast"]:
        add(FORECAST_AREA, forecast)
    for seismic in entry["seismic"]:
        add(SEISMIC_AREA, seismic)
    add(SEISMIC_PREF, entry["pref"])
    for eew in entry["eew"]:
        add(EEW_PREF, eew)
    for region in entry["eewRegion"]:
        add(EEW_REGION, region)
    regions = tsunami_regions(code)
    for tsunami in tsunami_codes(regions):
        add(TSUNAMI_AREA, tsunami)
    for region in regions:
        add(COAST_AREA, region)
    for own in (code, parent):
        if own and own[:5].isdigit():
            add(JIS_X0402, jis_x0402(own))
    return out
