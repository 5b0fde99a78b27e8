"""A town's warning state, and whether a telegram changes it (docs/r06.md).

Until JMA retires the older formats, one change of a town's weather warnings comes in up to three
telegrams: 気象警報・注意報 (VPWW53/54), the level-based （Ｒ０６） titles (VPWW55–61) and
土砂災害警戒情報 (VXWW50). They share no identifier, so they are compared by what they say: per
area and hazard (大雨, 土砂災害, 高潮, 暴風 …), the 警戒レベル in force.

A claim states the level as a range, because the older formats cannot always say it exactly: their
大雨警報 is the レベル３大雨警報 or the レベル４大雨危険警報 of the level-based format, and their
高潮警報 likewise. A claim changes nothing when what the town holds already lies within it: the
town was told that (or told it more precisely) by another format. It is news when it contradicts
what is held or says it more precisely (the level-based レベル４ after the older 大雨警報).

The comparison is pure, so that it is tested on its own and run unchanged inside the ledger's
transaction (broadcaster/store/warnstates.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# The level of a lifted hazard (nothing in force).
LIFTED = 0


@dataclass(frozen=True, slots=True)
class Level:
    """A 警戒レベル range and the level the format's name stands for when it is not exact."""

    low: int
    high: int
    nominal: int

    @property
    def exact(self) -> bool:
        return self.low == self.high


@dataclass(frozen=True, slots=True)
class Claim:
    """What one telegram says of one hazard in one of the town's areas."""

    area: str  # JMA's 市町村等 code
    # The hazards it speaks of: one, except the older formats' 大雨 which stands for the
    # level-based 大雨 and 土砂災害 together (its level is the graver of the two).
    hazards: tuple[str, ...]
    level: Level
    name: str  # JMA's name of the kind, for the record ("レベル３大雨警報", "大雨警報")
    # Hazards that stand in when the town holds none of its own: the older formats' 洪水 is part
    # of the level-based 大雨, whose level already says how grave it can be.
    within: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Held:
    """What the town was last told of one hazard in one area, and by which alert."""

    area: str
    hazard: str
    level: Level
    name: str
    told_by: str  # identifier of the alert that told it


Verdict = Literal["news", "refines", "same"]


def judge(claim: Claim, held: Mapping[tuple[str, str], Held]) -> Verdict:
    """news: the claim contradicts what the town holds, or says a level more precisely than the
    name it was told stands for; refines: it states exactly the level the town's less precise
    word stands for (nothing to send, but the precise level is kept); same: nothing new.

    Nothing held: news (a lift too: the town may have been told before its state was kept),
    unless the claim's wider hazard (`within`) was told at least as gravely.
    """
    mine = [held[(claim.area, h)] for h in claim.hazards if (claim.area, h) in held]
    c = claim.level
    if not mine:
        wider = [held[(claim.area, h)] for h in claim.within if (claim.area, h) in held]
        # Told of the wider hazard at least as gravely: nothing new. Graver: news.
        if wider and c.low <= max(h.level.high for h in wider):
            return "same"
        return "news"
    told = max(mine, key=lambda h: (h.level.high, h.level.low))
    t = told.level
    if c.low <= t.low and t.high <= c.high:
        return "same"
    if c.exact and t.low <= c.low <= t.high and c.low == t.nominal:
        return "refines"
    return "news"
