"""The Warning/Item structure shared by 気象警報・注意報, 土砂災害警戒情報, 竜巻注意情報 and
記録的短時間大雨情報: per area, the kinds in force and what happened to each.

The body (Body/Warning) says per kind whether it was issued, continues or was lifted; telegrams
without such a body (気象特別警報報知) are read from Head/Headline/Information instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.ingest.jma.draft import CITY, FORECAST_AREA
from adapters.ingest.jma.xmltools import Element, attr, every, text

ISSUED = "発表"
LIFTED = "解除"
# Statuses under which a kind is in force in the area after this telegram.
ACTIVE = frozenset(
    {"発表", "継続", "特別警報から警報", "特別警報から注意報", "警報から注意報", "警報から特別警報"}
)
# Statuses that say nothing is or was in force: the area is not affected by this telegram.
NOTHING = frozenset({"", "なし", "発表警報・注意報はなし"})
LIFT_CODES = frozenset({"00"})

# Finest first: a town is matched by its own code when the telegram has one, and an area that is
# named only at a coarse level (a whole prefecture) must not pull in towns the telegram spares.
_LEVELS = (
    "（市町村等）",
    "（市町村等をまとめた地域等）",
    "（一次細分区域等）",
    "（発表細分）",
    "（府県予報区等）",
)


@dataclass(frozen=True, slots=True)
class KindState:
    name: str
    code: str
    status: str
    last_name: str = ""
    last_code: str = ""
    condition: str = ""

    @property
    def active(self) -> bool:
        return self.status in ACTIVE and self.code not in LIFT_CODES and self.code != ""

    @property
    def lifted(self) -> bool:
        return self.status == LIFTED or (self.code in LIFT_CODES and self.status not in NOTHING)


@dataclass(frozen=True, slots=True)
class AreaItem:
    level: str
    name: str
    code: str
    code_type: str
    kinds: tuple[KindState, ...]
    change: str = ""

    @property
    def affected(self) -> bool:
        return any(k.active or k.lifted for k in self.kinds)


def _fineness(level: str) -> int:
    for i, suffix in enumerate(_LEVELS):
        if level.endswith(suffix):
            return i
    return 2


def _body_code_type(level: str) -> str:
    # Body/Warning areas carry no codeType; JMA's format fixes it per Warning/@type.
    if level.endswith("（市町村等）") or level == "土砂災害警戒情報":
        return CITY
    return FORECAST_AREA


def _kind(el: Element, status: str | None = None) -> KindState:
    return KindState(
        name=text(el, "Name"),
        code=text(el, "Code"),
        status=status if status is not None else text(el, "Status"),
        last_name=text(el, "LastKind", "Name"),
        last_code=text(el, "LastKind", "Code"),
        condition=text(el, "Condition"),
    )


def from_body(body: Element | None, warning_type_prefix: str = "") -> list[AreaItem]:
    items: list[AreaItem] = []
    for warning in every(body, "Warning"):
        level = attr(warning, "type")
        if warning_type_prefix and not level.startswith(warning_type_prefix):
            continue
        code_type = _body_code_type(level)
        for item in every(warning, "Item"):
            kinds = tuple(_kind(k) for k in every(item, "Kind"))
            items.append(
                AreaItem(
                    level=level,
                    name=text(item, "Area", "Name"),
                    code=text(item, "Area", "Code"),
                    code_type=code_type,
                    kinds=kinds,
                    change=text(item, "ChangeStatus"),
                )
            )
    return items


def from_head(headline: Element | None, information_type_prefix: str = "") -> list[AreaItem]:
    items: list[AreaItem] = []
    for info in every(headline, "Information"):
        level = attr(info, "type")
        if information_type_prefix and not level.startswith(information_type_prefix):
            continue
        for item in every(info, "Item"):
            # The head lists what is in force after the telegram, or 解除 (code 00).
            kinds = tuple(
                _kind(k, LIFTED if text(k, "Code") in LIFT_CODES else ISSUED) for k in every(item, "Kind")
            )
            for areas in every(item, "Areas"):
                code_type = attr(areas, "codeType")
                for area in every(areas, "Area"):
                    items.append(AreaItem(level, text(area, "Name"), text(area, "Code"), code_type, kinds))
    return items


def finest(items: list[AreaItem]) -> list[AreaItem]:
    if not items:
        return []
    best = min(_fineness(i.level) for i in items)
    return [i for i in items if _fineness(i.level) == best]


def combined(body: list[AreaItem], head: list[AreaItem]) -> list[AreaItem]:
    """The body's finest items, plus any area the head names at that level and the body omits.

    The head is what broadcasters read out; an area it names must not be lost because the body
    left it out (the official samples have such a 竜巻注意情報).
    """
    items = finest(body)
    if not items:
        return finest(head)
    level_types = {i.code_type for i in items}
    seen = {(i.code_type, i.code) for i in items}
    extra = [h for h in finest(head) if h.code_type in level_types and (h.code_type, h.code) not in seen]
    return items + extra
