"""A Kind for foreign CAP, guessed only where the CAP itself makes it obvious.

Order matters: the first rule that matches wins, so the more specific words come first
("Earthquake Early Warning" before "Earthquake", "特別警報" before "大雨"). SAME event codes
(used by IPAWS, NWS and Canada's NAAD) are exact, so they are tried before any word.
"""

from __future__ import annotations

from collections.abc import Sequence

from broadcaster.model import Category, Info, Kind

# SAME codes (47 CFR 11.31) whose meaning maps one-to-one onto a Kind.
_SAME: dict[str, Kind] = {
    "TSW": Kind.TSUNAMI,
    "TSA": Kind.TSUNAMI,
    "EQW": Kind.EARTHQUAKE,
    "VOW": Kind.VOLCANO,
    "TOR": Kind.TORNADO,
    "TOA": Kind.TORNADO,
    "FFW": Kind.FLOOD,
    "FFA": Kind.FLOOD,
    "FLW": Kind.FLOOD,
    "FLA": Kind.FLOOD,
    "HUW": Kind.TYPHOON,
    "HUA": Kind.TYPHOON,
    "TRW": Kind.TYPHOON,
    "TRA": Kind.TYPHOON,
    "EVI": Kind.EVACUATION,
    "SPW": Kind.SHELTER,
    "ADR": Kind.NOTICE,
}

_WORDS: tuple[tuple[tuple[str, ...], Kind], ...] = (
    (("緊急地震速報", "earthquake early warning"), Kind.EEW),
    (("津波", "tsunami"), Kind.TSUNAMI),
    (("地震", "震度", "震源", "earthquake"), Kind.EARTHQUAKE),
    (("噴火", "火山", "volcan"), Kind.VOLCANO),
    (("ミサイル", "国民保護", "missile"), Kind.MISSILE),
    (("特別警報",), Kind.SPECIAL_WARNING),
    (("土砂", "landslide", "mudslide", "debris flow"), Kind.LANDSLIDE),
    (("竜巻", "tornado"), Kind.TORNADO),
    (("台風", "typhoon", "hurricane", "tropical storm", "cyclone"), Kind.TYPHOON),
    (("洪水", "氾濫", "flood"), Kind.FLOOD),
    (("大雨", "heavy rain"), Kind.HEAVY_RAIN),
    (("避難所",), Kind.SHELTER),
    (("避難", "evacuat"), Kind.EVACUATION),
    (("停電", "断水", "power outage", "boil water"), Kind.LIFELINE),
)


def infer_kind(infos: Sequence[Info]) -> Kind:
    """One Kind for the whole alert: its info blocks are one event in several languages."""
    for info in infos:
        for code in info.event_code:
            if code.value_name.upper() == "SAME" and code.value.strip().upper() in _SAME:
                return _SAME[code.value.strip().upper()]
    for info in infos:
        event = info.event.casefold()
        for words, kind in _WORDS:
            if any(w in event for w in words):
                return kind
    # A meteorological CAP that names no specific hazard above is a weather warning or advisory.
    if any(Category.MET in info.category for info in infos):
        return Kind.WEATHER_WARNING
    return Kind.OTHER
