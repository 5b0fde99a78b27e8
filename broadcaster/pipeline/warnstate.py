"""What a weather-warning telegram says of a town's warning state (docs/r06.md).

The normalize stage asks `claims_of` for each new per-tenant alert of JMA's warnings; the ledger
then compares the claims with the town's state in the transaction that records the alert
(broadcaster/store/warnstates.py): a telegram that changes nothing the town was told (another
format of the same change, or a repeat) is recorded as merged and sent nowhere.

The comparison itself is pure and lives in broadcaster/model/warnstate.py.
"""

from __future__ import annotations

import re

from broadcaster.model import KIND, Alert, Info, MsgType, Status
from broadcaster.model.warnstate import LIFTED, Claim, Level
from broadcaster.rules.facts import CITY, Context

# Kinds whose telegrams carry per-town warnings: 気象警報・注意報 in every format, 特別警報,
# 土砂災害警戒情報 and its level-based successors.
KINDS = frozenset({"weather_warning", "special_warning", "landslide"})

_LEVEL_PREFIX = re.compile(r"^レベル[1-5１-５]")
# Gravest suffix first: 土砂災害危険警報 ends in 警報 too.
_GRADES = (("特別警報", 5), ("危険警報", 4), ("警戒情報", 4), ("警報", 3), ("注意報", 2))
# One hazard under two names: the advisory of 暴風 is 強風, that of 暴風雪 is 風雪.
_ALIASES = {"強風": "暴風", "風雪": "暴風雪"}
# Statuses under which nothing is in force (facts.py reads them the same way).
_NOT_IN_FORCE = frozenset({"解除", "なし", "発表警報・注意報はなし"})
# The older formats' 大雨 covers what the level-based format splits into 大雨 (浸水) and 土砂災害;
# their 洪水 is a hazard of its own there, and part of the level-based 大雨.
_LEGACY_RAIN = ("大雨", "土砂災害")
_LEGACY_FLOOD = "洪水"
# The older formats' warnings that the level-based format splits into a レベル３ 警報 and a
# レベル４ 危険警報: their range, the level their name stands for coming from the telegram.
_LEGACY_SPLIT = frozenset({"大雨", "洪水", "高潮"})
# 土砂災害警戒情報 lifted: the level is below 4, most often the 警報 (3) that went on meanwhile.
_LANDSLIDE_LIFTED = Level(LIFTED, 3, 3)
_LANDSLIDE = Level(4, 4, 4)


def hazard_of(name: str) -> tuple[str, int] | None:
    """(hazard, grade rank) of a kind name, or None for a name that is no kind ("解除")."""
    bare = _LEVEL_PREFIX.sub("", name)
    for suffix, rank in _GRADES:
        if bare.endswith(suffix) and len(bare) > len(suffix):
            hazard = bare[: -len(suffix)]
            return _ALIASES.get(hazard, hazard), rank
    return None


def _warning_claim(fields: list[str]) -> Claim | None:
    area, kind_name, status, level = fields[0], fields[3], fields[4], fields[5]
    found = hazard_of(kind_name)
    if found is None:
        return None
    hazard, rank = found
    legacy = not _LEVEL_PREFIX.match(kind_name)
    hazards = _LEGACY_RAIN if legacy and hazard == "大雨" else (hazard,)
    within = _LEGACY_RAIN if legacy and hazard == _LEGACY_FLOOD else ()
    if status in _NOT_IN_FORCE:
        return Claim(area, hazards, Level(LIFTED, LIFTED, LIFTED), f"{kind_name}解除", within)
    nominal = int(level) if level.isdigit() else rank
    if legacy and hazard in _LEGACY_SPLIT and rank == 3:
        return Claim(area, hazards, Level(3, 4, nominal), kind_name, within)
    return Claim(area, hazards, Level(nominal, nominal, nominal), kind_name, within)


def _values(info: Info, name: str) -> list[str]:
    return [p.value for p in info.parameter if p.value_name == name]


def claims_of(alert: Alert, ctx: Context) -> tuple[Claim, ...] | None:
    """Per area of the town and hazard, the level the telegram says is in force; None when the
    alert is not one of JMA's warning telegrams or names none of the town's areas by code."""
    if alert.tenant is None or alert.origin == "manual" or not alert.info:
        return None
    if alert.status is not Status.ACTUAL or alert.msg_type is MsgType.CANCEL:
        return None
    info = alert.primary
    if not KINDS.intersection(info.event_codes(KIND)):
        return None
    found: dict[tuple[str, tuple[str, ...]], Claim] = {}

    def keep(claim: Claim) -> None:
        key = (claim.area, claim.hazards)
        before = found.get(key)
        # One telegram may list a kind lifted and its successor in force: the one in force counts.
        if before is None or claim.level.high > before.level.high:
            found[key] = claim

    for value in _values(info, "warning"):
        f = value.split("|")
        if len(f) >= 6 and (CITY, f[0]) in ctx.territory:
            claim = _warning_claim(f)
            if claim is not None:
                keep(claim)
    for value in _values(info, "landslide"):
        f = value.split("|")
        if len(f) >= 4 and (CITY, f[0]) in ctx.territory:
            lifted = f[3] in _NOT_IN_FORCE
            name = "土砂災害警戒情報解除" if lifted else "土砂災害警戒情報"
            keep(Claim(f[0], ("土砂災害",), _LANDSLIDE_LIFTED if lifted else _LANDSLIDE, name))
    return tuple(found.values()) or None
