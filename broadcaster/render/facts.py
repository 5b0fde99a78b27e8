"""What a template needs to know, read once from an alert's parameters.

Parsers write facts as CAP parameters (docs/jma.md, docs/lalert.md: ``|``-separated fields in a
documented order). Templates should not split strings, so the renderer hands them these small
records instead. Reading is forgiving: a field that is missing or malformed is left out, never
raised, because a strange parameter must not stop a warning.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from broadcaster.model import LEVEL, Info

# JMA writes intensities as 1-4, 5-, 5+, 6-, 6+, 7; officers may type 6強 or 震度６強.
_INTENSITY_ORDER = ("1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")
_INTENSITY_WORDS = {"5弱": "5-", "5強": "5+", "6弱": "6-", "6強": "6+"}


# A town whose meter has not reported but is believed to have felt 5弱 or more: JMA's condition
# 「震度５弱以上未入電」 (docs/jma.md, *Parameters*). Templates get this code; the phrase tables
# say it as `intensity.unknown`.
UNREPORTED = "unknown"
_UNREPORTED_TEXT = "5弱以上未入電"


def intensity_code(value: str | None) -> str | None:
    """JMA's spelling of an intensity ("6+"), or None when it is none of the scale's values."""
    if not value:
        return None
    v = unicodedata.normalize("NFKC", value).strip().removeprefix("震度").strip()
    v = _INTENSITY_WORDS.get(v, v)
    return v if v in _INTENSITY_ORDER else None


def reading(value: str | None) -> str | None:
    """An intensity code, or UNREPORTED for JMA's 「震度５弱以上未入電」."""
    if value == UNREPORTED or (
        value and unicodedata.normalize("NFKC", value).strip().removeprefix("震度") == _UNREPORTED_TEXT
    ):
        return UNREPORTED
    return intensity_code(value)


def intensity_rank(code: str | None) -> int:
    if code == UNREPORTED:
        code = "5-"  # at least 5弱
    return _INTENSITY_ORDER.index(code) + 1 if code in _INTENSITY_ORDER else 0


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    value: str  # an intensity code, a status, a condition


@dataclass(frozen=True, slots=True)
class Quake:
    origin: datetime | None
    epicenter: str | None
    magnitude: str | None
    depth_km: str | None
    max_intensity: str | None
    local_intensity: str | None
    # The places with the strongest shaking (cities where JMA lists them, else areas).
    places: tuple[Place, ...]


@dataclass(frozen=True, slots=True)
class EewArea:
    name: str
    intensity_from: str | None
    intensity_to: str | None
    arrival: datetime | None
    arrival_text: str | None


@dataclass(frozen=True, slots=True)
class Eew:
    intensity_from: str | None
    intensity_to: str | None  # "over" means "or more"
    areas: tuple[EewArea, ...]


@dataclass(frozen=True, slots=True)
class TsunamiArea:
    name: str
    kind: str  # JMA's name: 大津波警報, 津波警報, 津波注意報 (with ：発表 etc. removed)
    arrival: datetime | None
    arrival_text: str | None  # a condition such as ただちに津波来襲と予測
    height: str | None  # as JMA writes it: ５ｍ, 巨大
    own: bool = False  # one of the regions of the tenant's own coast (broadcaster:ownCoast)


@dataclass(frozen=True, slots=True)
class Warning:
    place: str
    name: str  # 大雨警報, レベル４大雨危険警報 (terms translate the level prefix too)
    status: str  # 発表, 継続, 解除, 警報から注意報
    level: int | None


@dataclass(frozen=True, slots=True)
class Order:
    label: str  # 避難指示
    areas: str
    level: int | None
    lifted: bool


@dataclass(frozen=True, slots=True)
class Shelter:
    name: str
    status: str | None
    type: str | None
    capacity: str | None
    address: str | None
    phone: str | None
    crowding: str | None


@dataclass(frozen=True, slots=True)
class Facts:
    level: int | None
    quake: Quake | None
    eew: Eew | None
    tsunami: tuple[TsunamiArea, ...]  # the tenant's own coast first, when the alert was rated for it
    # Whether the alert was rated for the tenant's own coast (pipeline/coast.py): then only the
    # areas marked `own` say what the town must do.
    coast_rated: bool
    warnings: tuple[Warning, ...]  # the tenant's own rows when the telegram has them
    # The tenant's gravest warning in force: a telegram's headline names the gravest anywhere in
    # the prefecture, while the town must hear its own (level 3 here, even if level 4 next door).
    local_warning: Warning | None
    landslide: tuple[Warning, ...]
    orders: tuple[Order, ...]
    shelters: tuple[Shelter, ...]
    # launch, take_cover, landed, passed, fell_at_sea; None for other civil-protection messages
    # (大規模テロ情報 and the like), which must never be worded as a missile.
    missile_stage: str | None
    all_lifted: bool
    comments: tuple[str, ...]  # JMA 固定付加文 codes (0215: no tsunami, 0211: tsunami warning out)
    correction: bool  # JMA 訂正: the update corrects an earlier telegram


def _fields(value: str, n: int) -> list[str]:
    parts = value.split("|")
    return (parts + [""] * n)[:n]


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def _int(value: str | None) -> int | None:
    if not value:
        return None
    v = unicodedata.normalize("NFKC", value).strip()
    return int(v) if v.isdigit() and len(v) < 3 else None


def _params(info: Info, name: str) -> list[str]:
    return [p.value for p in info.parameter if p.value_name == name]


def _first(info: Info, name: str) -> str | None:
    values = _params(info, name)
    return values[0].strip() or None if values else None


def _own_first(rows: Sequence[Warning], town: str) -> tuple[Warning, ...]:
    own = tuple(r for r in rows if r.place == town)
    return own or tuple(rows)


_LIFTED = ("解除",)


def _local(rows: Sequence[Warning], town: str) -> Warning | None:
    own = [r for r in rows if r.place == town and r.status not in _LIFTED]
    return max(own, key=lambda r: r.level or 0) if own else None


def read_facts(info: Info, town: str) -> Facts:
    warnings = _warnings(info, "warning")
    return Facts(
        level=_int(info.param(LEVEL)),
        quake=_quake(info, town),
        eew=_eew(info),
        tsunami=_tsunami(info),
        coast_rated=info.param("broadcaster:ownCoast") is not None,
        warnings=_own_first(warnings, town),
        local_warning=_local(warnings, town),
        landslide=_own_first(_landslides(info), town),
        orders=_orders(info),
        shelters=_shelters(info),
        missile_stage=missile_stage(info),
        all_lifted=(info.param("allLifted") or "").lower() == "true",
        comments=tuple(_params(info, "comment")),
        correction=(info.param("infoType") or "") == "訂正",
    )


def _quake(info: Info, town: str) -> Quake | None:
    maxi = intensity_code(_first(info, "maxIntensity"))
    # Abroad, JMA's 詳細震央地名 (「チリ中部沿岸」) says where; the 震央地名 (「南米西部」) is a region.
    epicenter = _first(info, "hypocenterDetailedName") or _first(info, "hypocenterName")
    if maxi is None and epicenter is None:
        return None
    cities = [Place(*_fields(v, 3)[1:]) for v in _params(info, "cityIntensity")]
    areas = [Place(*_fields(v, 3)[1:]) for v in _params(info, "areaIntensity")]
    local = next((reading(c.value) for c in cities if c.name == town), None)
    ranked = sorted(
        (p for p in (cities or areas) if reading(p.value)),
        key=lambda p: -intensity_rank(reading(p.value)),
    )
    places = tuple(Place(p.name, reading(p.value) or p.value) for p in ranked[:5])
    return Quake(
        origin=_time(_first(info, "originTime")),
        epicenter=epicenter,
        magnitude=_first(info, "magnitude"),
        depth_km=_first(info, "hypocenterDepthKm"),
        max_intensity=maxi,
        local_intensity=local,
        places=places,
    )


def _eew(info: Info) -> Eew | None:
    lo, hi = _first(info, "forecastIntensityFrom"), _first(info, "forecastIntensityTo")
    rows = _params(info, "areaForecast")
    if lo is None and not rows:
        return None
    areas = []
    for v in rows:
        _, name, a, b, arrival, _ = _fields(v, 6)
        when = _time(arrival)
        areas.append(EewArea(name, intensity_code(a), b or None, when, None if when else arrival or None))
    return Eew(intensity_code(lo), hi, tuple(areas))


def _tsunami(info: Info) -> tuple[TsunamiArea, ...]:
    out = []
    own = set((info.param("broadcaster:ownCoast") or "").split(","))
    for v in _params(info, "tsunamiArea"):
        code, name, _, kind, _, first_wave, height = _fields(v, 7)
        when = _time(first_wave)
        out.append(
            TsunamiArea(
                name=name,
                kind=kind.split("：")[0].split(":")[0],
                arrival=when,
                arrival_text=None if when else first_wave or None,
                height=height or None,
                own=code in own,
            )
        )
    return tuple(out)


def _warnings(info: Info, name: str) -> list[Warning]:
    out = []
    for v in _params(info, name):
        _, place, _, kind, status, level = _fields(v, 6)
        if kind:
            out.append(Warning(place, kind, status, _int(level)))
    return out


def _landslides(info: Info) -> list[Warning]:
    out = []
    for v in _params(info, "landslide"):
        _, place, _, status = _fields(v, 4)
        out.append(Warning(place, "土砂災害警戒情報", status, 4))
    return out


def _indexed(info: Info, prefix: str) -> dict[int, dict[str, str]]:
    # lalert:order.1.label → {1: {"label": ...}}
    out: dict[int, dict[str, str]] = {}
    for p in info.parameter:
        if p.value_name.startswith(prefix):
            n, _, name = p.value_name[len(prefix) :].partition(".")
            if n.isdigit() and name:
                out.setdefault(int(n), {})[name] = p.value
    return dict(sorted(out.items()))


def _orders(info: Info) -> tuple[Order, ...]:
    out = []
    for f in _indexed(info, "lalert:order.").values():
        label = f.get("label") or f.get("sort") or ""
        if label:
            lifted = "解除" in (f.get("issueOrLift") or "")
            out.append(Order(label, f.get("areas", ""), _int(f.get("level")), lifted))
    return tuple(out)


def _shelters(info: Info) -> tuple[Shelter, ...]:
    out = []
    for f in _indexed(info, "lalert:shelter.").values():
        if f.get("name"):
            out.append(
                Shelter(
                    name=f["name"],
                    status=f.get("status"),
                    type=f.get("type"),
                    capacity=f.get("capacity"),
                    address=f.get("address"),
                    phone=f.get("phone"),
                    crowding=f.get("crowding"),
                )
            )
    return tuple(out)


_MISSILE_STAGES = ("launch", "take_cover", "landed", "passed", "fell_at_sea")
# Most specific first: J-Alert's wording for each stage (docs: corpus jalert/README.md).
_MISSILE_WORDS = (
    ("take_cover", re.compile(r"直ちに避難")),
    ("passed", re.compile(r"通過")),
    ("fell_at_sea", re.compile(r"領海外|海上に落下|海に落下|排他的経済水域外")),
    ("landed", re.compile(r"落下")),
    ("launch", re.compile(r"発射")),
)


def missile_stage(info: Info) -> str | None:
    """The J-Alert parser's `missileStage`, else the stage J-Alert's own wording names."""
    given = (info.param("missileStage") or "").strip()
    if given in _MISSILE_STAGES:
        return given
    text = " ".join(t for t in (info.event, info.headline or "") if t)
    if "ミサイル" not in text:
        return None
    for stage, pattern in _MISSILE_WORDS:
        if pattern.search(text):
            return stage
    return None
