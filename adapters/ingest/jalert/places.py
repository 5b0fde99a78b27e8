"""The areas a J-Alert message names, as CAP areas with JIS X 0402 geocodes.

A message names prefectures ("石川県"), municipalities ("石川県輪島市", "輪島市") or codes (the
six-digit local-government code with check digit, its five digits, a prefecture's two, or JMA's
seven-digit 市町村等 code). A municipality gets its own code only, a prefecture the prefecture's
code (石川県 = 170003), and 全国 every prefecture's: a municipality-level warning must not reach
the neighbours, while a prefecture-level one reaches every tenant of the prefecture, who carry the
prefecture's code beside their own (broadcaster/pipeline/tenancy.py).

Municipality names come from the JMA area table shipped with the JMA adapter (data/areas.json,
出典：気象庁), whose 市町村等 codes carry the JIS X 0402 digits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from broadcaster import areacodes
from broadcaster.model import JIS_X0402, Area, NamedValue

NATIONWIDE = ("全国", "全都道府県")
# Written after a name to say "around": 石川県周辺 is 石川県.
_AROUND = ("周辺", "付近")


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    code: str | None  # six-digit JIS X 0402 form; None when the name is not known

    def to_area(self) -> Area:
        if self.code is None:
            return Area(area_desc=self.name)
        return Area(area_desc=self.name, geocode=(NamedValue(value_name=JIS_X0402, value=self.code),))


@dataclass(frozen=True)
class _Municipalities:
    by_pref: dict[str, dict[str, str]]  # prefecture number → name → code
    by_name: dict[str, list[str]]  # name → codes nationwide
    names: dict[str, str]  # code → name


@cache
def _municipalities() -> _Municipalities:
    raw = resources.files("adapters.ingest.jma").joinpath("data", "areas.json").read_text("utf-8")
    cities: dict[str, dict[str, object]] = json.loads(raw)["cities"]
    by_pref: dict[str, dict[str, str]] = {}
    by_name: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for jma_code, entry in cities.items():
        name, pref = str(entry["name"]), str(entry["pref"])
        if not jma_code[:5].isdigit():
            continue
        code = areacodes.with_check_digit(jma_code[:5])
        names.setdefault(code, name)
        by_pref.setdefault(pref, {}).setdefault(name, code)
        if code not in by_name.setdefault(name, []):
            by_name[name].append(code)
    return _Municipalities(by_pref, by_name, names)


def _strip_around(name: str) -> str:
    for suffix in _AROUND:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _by_code(code: str) -> Place | None:
    table = _municipalities()
    if not (code.isascii() and code.isdigit()):
        return None  # a mangled code ('1700[') names no place; it is not a bug in the parser
    if len(code) == 7:
        code = code[:5]  # JMA's 市町村等 code: the first five digits are the JIS ones
    if len(code) == 5:
        code = areacodes.with_check_digit(code)
    if len(code) == 2:
        try:
            code = areacodes.prefecture_code(code)
        except ValueError:
            return None
    if not areacodes.is_valid(code):
        return None
    if areacodes.is_prefecture(code):
        name = areacodes.prefecture_name(code)
        return Place(name, code) if name else None
    name = table.names.get(code)
    if name is None:
        return None
    pref = areacodes.prefecture_name(code) or ""
    return Place(pref + name, code)


def _by_name(name: str) -> Place | None:
    table = _municipalities()
    pref_code = areacodes.prefecture_by_name(name)
    if pref_code is not None:
        return Place(name, pref_code)
    for i, pref in enumerate(areacodes.PREFECTURES, start=1):
        if name.startswith(pref) and len(name) > len(pref):
            code = table.by_pref.get(f"{i:02d}", {}).get(name[len(pref) :])
            return Place(name, code)
    codes = table.by_name.get(name, [])
    # A name that several prefectures have (府中市) says nothing without its prefecture.
    return Place(name, codes[0] if len(codes) == 1 else None)


def resolve(item: str | dict[str, str]) -> list[Place]:
    """One named area as places (全国: one per prefecture); unknown names keep their name only."""
    if isinstance(item, dict):
        name, code = item.get("name", ""), item.get("code", "")
        if code:
            found = _by_code(code)
            if found is not None:
                return [Place(name or found.name, found.code)]
            return [Place(name or code, None)]
        item = name
    text = _strip_around(item.strip())
    if text in NATIONWIDE:
        return [Place(areacodes.prefecture_name(c) or c, c) for c in areacodes.all_prefectures()]
    if text.isdigit():
        return [_by_code(text) or Place(text, None)]
    return [_by_name(text) or Place(text, None)]


def resolve_all(items: Iterable[str | dict[str, str]]) -> list[Place]:
    out: list[Place] = []
    seen: set[tuple[str, str | None]] = set()
    for item in items:
        for place in resolve(item):
            if (place.name, place.code) not in seen:
                seen.add((place.name, place.code))
                out.append(place)
    return out
