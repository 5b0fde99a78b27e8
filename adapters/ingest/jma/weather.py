"""気象警報・注意報 in every format (VPWW50/53/54, the level-based Ｒ０６ titles VPWW55–61) and
気象特別警報報知 (VPNO50).

Per town: which kinds are in force and which were lifted, as parameters; the alert's rating follows
the gravest kind in force. A telegram that only lifts still becomes an alert, rated as over, so
that the lift reaches those who were warned.
"""

from __future__ import annotations

import re

from adapters.ingest.jma.draft import WARNING_CODE, Draft, join
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.warnitems import AreaItem, KindState, combined, from_body, from_head
from broadcaster.model import Category, Certainty, Kind, ResponseType, Severity, Urgency

# 警戒レベル相当 of the warnings named without a level (the formats before Ｒ０６), by code:
# 大雨・洪水警報 3, 大雨・洪水注意報 2, 高潮警報・特別警報 4, 高潮注意報 2, 大雨特別警報 5.
LEGACY_LEVEL = {"03": 3, "04": 3, "10": 2, "18": 2, "08": 4, "19": 2, "33": 5, "38": 4}
# Ｒ０６ titles name the level in the kind itself: "レベル４土砂災害危険警報".
_LEVEL_PREFIX = re.compile(r"^レベル([1-5１-５])")
_FULLWIDTH = str.maketrans("１２３４５", "12345")

# Titles of the level-based format whose subject is 土砂災害 (its 危険警報 replaces 土砂災害警戒情報).
LANDSLIDE_TITLES = frozenset({"気象警報・注意報（Ｒ０６）（土砂災害）", "気象警報・注意報（Ｒ０６）（土砂）"})

# Gravity classes, by the code table's own names.
SPECIAL, DANGER, WARNING, ADVISORY, OTHER = 4, 3, 2, 1, 0


def gravity(kind: KindState) -> int:
    if kind.name.endswith("特別警報"):
        return SPECIAL
    if kind.name.endswith("危険警報"):
        return DANGER
    if kind.name.endswith("警報"):
        return WARNING
    if kind.name.endswith("注意報"):
        return ADVISORY
    return OTHER


def level_of(kind: KindState) -> int | None:
    m = _LEVEL_PREFIX.match(kind.name)
    if m:
        return int(m.group(1).translate(_FULLWIDTH))
    return LEGACY_LEVEL.get(kind.code)


def lifted_name(kind: KindState) -> str:
    # The body names the lifted kind; the head writes 解除 and leaves the kind to LastKind.
    return kind.last_name if kind.name == "解除" and kind.last_name else kind.name


RATING = {
    SPECIAL: (Severity.EXTREME, Urgency.IMMEDIATE),
    DANGER: (Severity.SEVERE, Urgency.IMMEDIATE),
    WARNING: (Severity.SEVERE, Urgency.EXPECTED),
    ADVISORY: (Severity.MODERATE, Urgency.EXPECTED),
    OTHER: (Severity.MINOR, Urgency.EXPECTED),
}


def _items(env: Envelope) -> list[AreaItem]:
    return combined(from_body(env.body, "気象警報・注意報"), from_head(env.headline, env.info_kind or "気象"))


def parse_warnings(env: Envelope, draft: Draft) -> None:
    draft.category = Category.MET
    items = _items(env)
    active: dict[str, KindState] = {}
    lifted: dict[str, KindState] = {}
    for item in items:
        if not item.affected:
            continue
        draft.area(item.name, item.code, item.code_type)
        for k in item.kinds:
            if k.active:
                active.setdefault(k.code, k)
            elif k.lifted:
                lifted.setdefault(k.last_code or k.code, k)
            else:
                continue
            level = level_of(k)
            draft.param(
                "warning", join(item.code, item.name, k.code, k.name, k.status, str(level) if level else "")
            )
        if item.change:
            draft.param("areaChange", join(item.code, item.name, item.change))

    ranked = sorted(active.values(), key=lambda k: (gravity(k), level_of(k) or 0), reverse=True)
    levels = [lv for lv in (level_of(k) for k in ranked) if lv is not None]
    draft.level = max(levels) if levels else None
    draft.param("warningKinds", ",".join(k.name for k in ranked))
    draft.param("liftedKinds", ",".join(lifted_name(k) for k in lifted.values()))
    for k in ranked:
        draft.code(WARNING_CODE, k.code)

    if any(gravity(k) == SPECIAL for k in ranked):
        draft.kind = Kind.SPECIAL_WARNING
    elif env.title in LANDSLIDE_TITLES:
        draft.kind = Kind.LANDSLIDE
    else:
        draft.kind = Kind.WEATHER_WARNING

    base = {
        "気象特別警報報知": "気象特別警報",
        "気象特別警報・警報・注意報": "気象特別警報・警報・注意報",
    }.get(env.title, "気象警報・注意報")
    if ranked:
        top = ranked[0]
        severity, urgency = RATING[gravity(top)]
        draft.rate(severity, urgency, Certainty.LIKELY)
        draft.event = top.name
        if gravity(top) >= DANGER:
            draft.response.append(ResponseType.EVACUATE)
        else:
            draft.response.append(ResponseType.PREPARE)
    elif lifted:
        draft.rate(Severity.MINOR, Urgency.PAST, Certainty.OBSERVED)
        draft.event = f"{base}解除"
        draft.param("allLifted", "true")
        draft.code(WARNING_CODE, "00")
        draft.response.append(ResponseType.ALL_CLEAR)
    else:
        draft.rate(Severity.MINOR, Urgency.UNKNOWN, Certainty.UNKNOWN)
        draft.event = base
