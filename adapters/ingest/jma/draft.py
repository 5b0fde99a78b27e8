"""What a family parser hands to the assembler: the facts of one telegram, not yet an Alert."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from broadcaster.errors import ParseError
from broadcaster.model import (
    Area,
    Category,
    Certainty,
    Kind,
    NamedValue,
    ResponseType,
    Severity,
    Urgency,
)

# The codeType strings JMA writes in telegrams (Areas/@codeType, CodeDefine/Type). Bodies that do
# not write one use the code table JMA's format document names for that element.
CITY = "気象・地震・火山情報／市町村等"
FORECAST_AREA = "気象情報／府県予報区・細分区域等"
SEISMIC_AREA = "地震情報／細分区域"
SEISMIC_PREF = "地震情報／都道府県等"
TSUNAMI_AREA = "津波予報区"
# 沖合の津波観測に関する情報 estimates the tsunami per 沿岸地域, coded like the 津波予報区.
COAST_AREA = "沿岸地域"
TIDE_STATION = "潮位観測点"
EEW_PREF = "緊急地震速報／府県予報区"
EEW_REGION = "緊急地震速報／地方予報区"
EPICENTER = "震央地名"
VOLCANO = "火山名"
RIVER = "河川"
FLOOD_AREA = "指定河川洪水予報（予報区域）"

# eventCode valueNames: JMA's 種別 for its 警報等情報要素 code tables.
WARNING_CODE = "警報等情報要素／気象警報・注意報"
LANDSLIDE_CODE = "警報等情報要素／土砂災害警戒情報"
TORNADO_CODE = "警報等情報要素／竜巻注意情報"
RAIN_CODE = "警報等情報要素／記録的短時間大雨情報"
FLOOD_CODE = "警報等情報要素／指定河川洪水予報"
EEW_CODE = "警報等情報要素／緊急地震速報"
TSUNAMI_CODE = "警報等情報要素／津波警報・注意報・予報"
VOLCANO_CODE = "警報等情報要素／噴火警報・予報等"
# Beyond JMA's tables: the telegram's Control/Title, so that rules can name a telegram type.
TITLE_CODE = "jma:title"


@dataclass(slots=True)
class Draft:
    kind: Kind
    event: str
    category: Category = Category.MET
    urgency: Urgency = Urgency.UNKNOWN
    severity: Severity = Severity.UNKNOWN
    certainty: Certainty = Certainty.UNKNOWN
    response: list[ResponseType] = field(default_factory=list)
    level: int | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    instruction: str | None = None
    texts: list[str] = field(default_factory=list)
    codes: list[NamedValue] = field(default_factory=list)
    params: list[NamedValue] = field(default_factory=list)
    areas: list[Area] = field(default_factory=list)
    _area_keys: set[tuple[str, str]] = field(default_factory=set)
    _code_keys: set[tuple[str, str]] = field(default_factory=set)

    def param(self, name: str, value: object) -> None:
        if value is None or value == "":
            return
        self.params.append(NamedValue(value_name=name, value=str(value)))

    def code(self, value_name: str, value: str) -> None:
        if value and (value_name, value) not in self._code_keys:
            self._code_keys.add((value_name, value))
            self.codes.append(NamedValue(value_name=value_name, value=value))

    def area(self, name: str, code: str, code_type: str, *, circle: str | None = None) -> None:
        """One Area per affected area; the same code twice is kept once."""
        key = (code_type, code or name)
        if key in self._area_keys or not (name or code):
            return
        self._area_keys.add(key)
        if code and not code_type.strip():
            # A code says nothing without its table; JMA's schema requires codeType (fuzzing).
            raise ParseError("missing_code_type", f"area {(name or code)[:40]!r} has a code but no codeType")
        geocode = (NamedValue(value_name=code_type, value=code),) if code else ()
        self.areas.append(Area(area_desc=name or code, geocode=geocode, circle=(circle,) if circle else ()))

    def text(self, value: str) -> None:
        if value and value not in self.texts:
            self.texts.append(value)

    def rate(self, severity: Severity, urgency: Urgency, certainty: Certainty) -> None:
        self.severity, self.urgency, self.certainty = severity, urgency, certainty


def join(*fields: str) -> str:
    """A multi-field parameter value: fields in a documented order, "|"-separated."""
    return "|".join(f.replace("|", "｜") for f in fields)
