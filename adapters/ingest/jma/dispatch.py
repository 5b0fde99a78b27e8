"""Which family parser reads a telegram: decided by Control/Title (JMA's fixed vocabulary of
information names) and checked against the body namespace. Unknown titles go to the generic
parser; a known title over the wrong body is refused, since then one of the two is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from adapters.ingest.jma import generic, rain, regional
from adapters.ingest.jma.draft import Draft
from adapters.ingest.jma.earthquake import parse_earthquake
from adapters.ingest.jma.eew import parse_eew
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.landslide import parse_landslide
from adapters.ingest.jma.rivers import parse_flood
from adapters.ingest.jma.tornado import parse_tornado
from adapters.ingest.jma.tsunami import parse_tsunami
from adapters.ingest.jma.typhoon import parse_typhoon
from adapters.ingest.jma.volcano import parse_volcano, parse_volcano_info
from adapters.ingest.jma.weather import parse_warnings
from adapters.ingest.jma.xmltools import NS_METEOROLOGY, NS_SEISMOLOGY, NS_VOLCANOLOGY
from broadcaster.errors import ParseError
from broadcaster.model import Severity

Handler = Callable[[Envelope, Draft], None]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    body_ns: str
    # What a 取消 of this title is rated, since it carries no body to rate it by.
    nominal: Severity


def _prefectural_info(env: Envelope, draft: Draft) -> None:
    if rain.is_significant_rain(env):
        rain.parse_significant_rain(env, draft)
    else:
        regional.parse_weather_info(env, draft)


_WEATHER = Route(parse_warnings, NS_METEOROLOGY, Severity.SEVERE)
_SEISMIC = Route(parse_earthquake, NS_SEISMOLOGY, Severity.MODERATE)
_EEW = Route(parse_eew, NS_SEISMOLOGY, Severity.SEVERE)
_TSUNAMI = Route(parse_tsunami, NS_SEISMOLOGY, Severity.SEVERE)
_VOLCANO = Route(parse_volcano, NS_VOLCANOLOGY, Severity.SEVERE)
_TYPHOON = Route(parse_typhoon, NS_METEOROLOGY, Severity.MODERATE)
_TYPHOON_SUMMARY = Route(regional.parse_typhoon_summary, NS_METEOROLOGY, Severity.MODERATE)
_WEATHER_INFO = Route(regional.parse_weather_info, NS_METEOROLOGY, Severity.MINOR)

ROUTES: dict[str, Route] = {
    "気象警報・注意報": _WEATHER,
    "気象特別警報・警報・注意報": _WEATHER,
    "気象警報・注意報（Ｈ２７）": _WEATHER,
    "気象特別警報報知": _WEATHER,
    "土砂災害警戒情報": Route(parse_landslide, NS_METEOROLOGY, Severity.SEVERE),
    "竜巻注意情報": Route(parse_tornado, NS_METEOROLOGY, Severity.SEVERE),
    "竜巻注意情報（目撃情報付き）": Route(parse_tornado, NS_METEOROLOGY, Severity.SEVERE),
    "記録的短時間大雨情報": Route(rain.parse_record_rain, NS_METEOROLOGY, Severity.SEVERE),
    "府県気象防災速報": Route(rain.parse_flash, NS_METEOROLOGY, Severity.SEVERE),
    "府県気象情報": Route(_prefectural_info, NS_METEOROLOGY, Severity.MINOR),
    "全般気象情報": _WEATHER_INFO,
    "地方気象情報": _WEATHER_INFO,
    "全般気象解説情報": _WEATHER_INFO,
    "地方気象解説情報": _WEATHER_INFO,
    "府県気象解説情報": _WEATHER_INFO,
    "全般潮位情報": _WEATHER_INFO,
    "地方潮位情報": _WEATHER_INFO,
    "府県潮位情報": _WEATHER_INFO,
    "全般気象解説情報（潮位）": _WEATHER_INFO,
    "地方気象解説情報（潮位）": _WEATHER_INFO,
    "府県気象解説情報（潮位）": _WEATHER_INFO,
    "熱中症警戒アラート": Route(regional.parse_heat, NS_METEOROLOGY, Severity.MODERATE),
    "熱中症特別警戒アラート": Route(regional.parse_heat, NS_METEOROLOGY, Severity.SEVERE),
    "台風の暴風域に入る確率": Route(regional.parse_typhoon_probability, NS_METEOROLOGY, Severity.MODERATE),
    "指定河川洪水予報": Route(parse_flood, NS_METEOROLOGY, Severity.SEVERE),
    "水位周知河川に関する情報": Route(parse_flood, NS_METEOROLOGY, Severity.MODERATE),
    "台風解析・予報情報（３日予報）": _TYPHOON,
    "台風解析・予報情報（５日予報）": _TYPHOON,
    "台風解析・予報情報（５日予報）（Ｈ３０）": _TYPHOON,
    "全般台風情報": _TYPHOON_SUMMARY,
    "全般台風情報（定型）": _TYPHOON_SUMMARY,
    "全般台風情報（詳細）": _TYPHOON_SUMMARY,
    "緊急地震速報（警報）": _EEW,
    "緊急地震速報（予報）": _EEW,
    "緊急地震速報（地震動予報）": _EEW,
    "緊急地震速報配信テスト": Route(parse_eew, NS_SEISMOLOGY, Severity.MINOR),
    "震度速報": _SEISMIC,
    "震源に関する情報": _SEISMIC,
    "震源・震度に関する情報": _SEISMIC,
    "長周期地震動に関する観測情報": _SEISMIC,
    "顕著な地震の震源要素更新のお知らせ": _SEISMIC,
    # The "a" is part of JMA's titles for the current tsunami formats.
    "津波警報・注意報・予報a": _TSUNAMI,
    "津波警報・注意報・予報": _TSUNAMI,
    "津波情報a": _TSUNAMI,
    "津波情報": _TSUNAMI,
    "沖合の津波観測に関する情報": _TSUNAMI,
    "南海トラフ地震臨時情報": Route(regional.parse_nankai, NS_SEISMOLOGY, Severity.SEVERE),
    "南海トラフ地震関連解説情報": Route(regional.parse_nankai_commentary, NS_SEISMOLOGY, Severity.MINOR),
    "北海道・三陸沖後発地震注意情報": Route(regional.parse_subsequent_quake, NS_SEISMOLOGY, Severity.SEVERE),
    "噴火警報・予報": _VOLCANO,
    "噴火速報": _VOLCANO,
    "噴火に関する火山観測報": Route(parse_volcano, NS_VOLCANOLOGY, Severity.MODERATE),
    "火山の状況に関する解説情報": Route(parse_volcano_info, NS_VOLCANOLOGY, Severity.MINOR),
    "降灰予報（定時）": Route(parse_volcano_info, NS_VOLCANOLOGY, Severity.MINOR),
    "降灰予報（速報）": Route(parse_volcano_info, NS_VOLCANOLOGY, Severity.MODERATE),
    "降灰予報（詳細）": Route(parse_volcano_info, NS_VOLCANOLOGY, Severity.MODERATE),
    "推定噴煙流向報": Route(parse_volcano_info, NS_VOLCANOLOGY, Severity.MINOR),
}

# The level-based format is one title per hazard, 「気象警報・注意報（Ｒ０６）（大雨）」 and so on;
# new hazards in that family route here without a code change.
_WARNING_FAMILY = re.compile(r"^気象(特別警報・)?警報・注意報(（[^）]+）)+$")
GENERIC = Route(generic.parse_generic, "", Severity.UNKNOWN)


def route_for(env: Envelope) -> Route:
    route = ROUTES.get(env.title)
    if route is None and _WARNING_FAMILY.match(env.title):
        route = _WEATHER
    if route is None:
        return GENERIC
    if env.body_ns != route.body_ns:
        raise ParseError("body_mismatch", f"{env.title} with body namespace {env.body_ns or 'none'}")
    return route
