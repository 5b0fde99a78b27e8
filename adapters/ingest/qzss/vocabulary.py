"""What the QZSS adapter calls things, and how DCR and DCX codes map to the project's kinds."""

from __future__ import annotations

from broadcaster.model import Kind, ResponseType, Severity

ORIGIN = "qzss"
SENDER = "qzss"
SOURCE_NAME = "みちびき（準天頂衛星）災危通報"
SENDER_NAME = "みちびき災危通報"

# Content types of a RawEvent from the receiver: one $QZQSM sentence, or one UBX frame.
NMEA = "application/vnd.qzss.qzqsm"
UBX = "application/vnd.ublox.ubx"

# An info parameter naming the relay an alert came through, so that the same real change reported
# by an identified source (JMA, L-Alert) and by the satellite is one alert (docs/architecture.md,
# *One alert per real change*).
RELAY_PARAM = "broadcaster:relay"
RELAY_DCR = "qzss/dcr"
RELAY_DCX = "qzss/dcx"

# The DCR disaster categories (Dc) and what the project calls each.
DCR_KINDS: dict[int, Kind] = {
    1: Kind.EEW,
    2: Kind.EARTHQUAKE,
    3: Kind.EARTHQUAKE,
    4: Kind.EARTHQUAKE,
    5: Kind.TSUNAMI,
    6: Kind.TSUNAMI,
    8: Kind.VOLCANO,
    9: Kind.VOLCANO,
    10: Kind.SPECIAL_WARNING,
    11: Kind.FLOOD,
    12: Kind.TYPHOON,
    14: Kind.WEATHER_WARNING,
}

# JMA's own titles for what each DCR category relays (the telegram the message was made from).
DCR_TITLES: dict[int, str] = {
    1: "緊急地震速報（警報）",
    2: "震源に関する情報",
    3: "震度速報",
    4: "南海トラフ地震に関連する情報",
    5: "津波警報・注意報・予報",
    6: "北西太平洋津波情報",
    8: "噴火警報・予報",
    9: "降灰予報",
    10: "気象特別警報・警報・注意報",
    11: "指定河川洪水予報",
    12: "台風情報",
    14: "地方海上警報",
}

# Weather sub-categories (Ww) that are not 特別警報.
WEATHER_SUB_KINDS: dict[int, Kind] = {21: Kind.HEAVY_RAIN, 22: Kind.TORNADO, 23: Kind.LANDSLIDE}

# Tsunami warning codes (Dw): (grade as JMA names it, severity, lifted).
TSUNAMI_GRADES: dict[int, tuple[str, Severity]] = {
    3: ("津波警報", Severity.SEVERE),
    4: ("大津波警報", Severity.EXTREME),
    5: ("大津波警報", Severity.EXTREME),
}
TSUNAMI_LIFTED = 2
TSUNAMI_NONE = 1

# DCX hazards (A4) of J-Alert messages.
DCX_JALERT_KINDS: dict[int, Kind] = {8: Kind.MISSILE, 103: Kind.MISSILE, 1: Kind.MISSILE, 36: Kind.EEW, 44: Kind.TSUNAMI}

# The Japanese library's missile texts (A11) and the J-Alert stage each is (docs/jalert.md).
MISSILE_STAGES: dict[int, str] = {
    128: "launch",
    132: "take_cover",
    134: "landed",
    133: "landed",
    129: "passed",
    130: "fell_at_sea",
    131: "passed",
    135: "passed",
}
MISSILE_HEADLINES = {
    "launch": "ミサイル発射",
    "take_cover": "直ちに避難",
    "landed": "ミサイル落下",
    "passed": "ミサイル通過",
    "fell_at_sea": "ミサイル落下（領海外）",
}
# Texts that lift the call to take cover: the alert says so (responseType AllClear).
MISSILE_LIFTS = frozenset({129, 130, 131, 135})
# Library entries that announce a test of the service itself.
TEST_INSTRUCTIONS = frozenset({126, 136})

SEVERITIES = {0: Severity.UNKNOWN, 1: Severity.MODERATE, 2: Severity.SEVERE, 3: Severity.EXTREME}

# The instruction's verb (A11 / 256 = stay, 512 = move to, 768 = keep away) as a CAP response.
RESPONSES = {1: ResponseType.SHELTER, 2: ResponseType.EVACUATE, 3: ResponseType.AVOID}
