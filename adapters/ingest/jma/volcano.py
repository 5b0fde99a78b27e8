"""火山: 噴火警報・予報 (VFVO50), 噴火速報 (VFVO56), 噴火に関する火山観測報 (VFVO52).

Areas: the towns the telegram names (対象市町村等), and the volcano itself (火山名 code). The
噴火警戒レベル is a volcano's own scale, not the evacuation 警戒レベル, so it is a parameter of its
own (volcanicAlertLevel) and never broadcaster:level.
"""

from __future__ import annotations

from adapters.ingest.jma.draft import CITY, VOLCANO, VOLCANO_CODE, Draft, join
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.xmltools import attr, every, text
from broadcaster.model import Category, Certainty, Kind, ResponseType, Severity, Urgency

# 噴火警戒レベル by kind code (レベル１…レベル５ are codes 11–15).
ALERT_LEVEL = {"11": 1, "12": 2, "13": 3, "14": 4, "15": 5}
# Rating by 噴火警戒レベル.
BY_LEVEL = {
    5: (Severity.EXTREME, Urgency.IMMEDIATE, ResponseType.EVACUATE),
    4: (Severity.SEVERE, Urgency.IMMEDIATE, ResponseType.PREPARE),
    3: (Severity.SEVERE, Urgency.EXPECTED, ResponseType.AVOID),
    2: (Severity.MODERATE, Urgency.EXPECTED, ResponseType.AVOID),
    1: (Severity.MINOR, Urgency.FUTURE, ResponseType.MONITOR),
}
# Rating by warning kind, for volcanoes without 噴火警戒レベル: 噴火警報（居住地域）, 火口周辺警報,
# 噴火警報（周辺海域）, 警報解除, 噴火予報.
BY_KIND = {
    "01": (Severity.SEVERE, Urgency.IMMEDIATE, ResponseType.EVACUATE),
    "02": (Severity.MODERATE, Urgency.EXPECTED, ResponseType.AVOID),
    "03": (Severity.MODERATE, Urgency.EXPECTED, ResponseType.AVOID),
    "04": (Severity.MINOR, Urgency.PAST, ResponseType.ALL_CLEAR),
    "05": (Severity.MINOR, Urgency.FUTURE, ResponseType.MONITOR),
}
FLASH_TITLE = "噴火速報"


def parse_volcano(env: Envelope, draft: Draft) -> None:
    draft.category = Category.GEO
    draft.kind = Kind.VOLCANO
    draft.event = env.title
    alert_level: int | None = None
    kind_codes: list[str] = []
    infos = every(env.body, "VolcanoInfo") or every(env.headline, "Information")
    for info in infos:
        for item in every(info, "Item"):
            kind_code, kind_name = text(item, "Kind", "Code"), text(item, "Kind", "Name")
            condition = text(item, "Kind", "Condition")
            draft.code(VOLCANO_CODE, kind_code)
            kind_codes.append(kind_code)
            alert_level = ALERT_LEVEL.get(kind_code, alert_level)
            for areas in every(item, "Areas"):
                code_type = attr(areas, "codeType")
                for area in every(areas, "Area"):
                    code, name = text(area, "Code"), text(area, "Name")
                    draft.area(name, code, code_type)
                    if code_type == VOLCANO:
                        draft.param("volcanoName", name)
                        draft.param("volcanoCode", code)
                        draft.param("volcanoKind", join(kind_code, kind_name, condition))
                    elif code_type == CITY:
                        draft.param("cityWarning", join(code, name, kind_code, kind_name, condition))
            draft.param("eventTime", text(item, "EventTime", "EventDateTime"))
    draft.param("volcanicAlertLevel", alert_level)
    content = every(env.body, "VolcanoInfoContent")
    for block in content:
        for part in ("VolcanoHeadline", "VolcanoActivity", "VolcanoPrevention", "Text"):
            draft.text(text(block, part))
    draft.text(text(env.body, "Text"))

    if env.title == FLASH_TITLE:
        draft.rate(Severity.SEVERE, Urgency.IMMEDIATE, Certainty.OBSERVED)
        draft.response.append(ResponseType.EVACUATE)
        return
    lifted = "04" in kind_codes  # 噴火予報：警報解除 outranks the level it lands on
    rating = BY_KIND["04"] if lifted else BY_LEVEL.get(alert_level) if alert_level else None
    if rating is None:
        rating = next((BY_KIND[c] for c in kind_codes if c in BY_KIND), None)
    if rating is None:
        draft.rate(Severity.MODERATE, Urgency.PAST, Certainty.OBSERVED)
        return
    severity, urgency, response = rating
    draft.rate(severity, urgency, Certainty.OBSERVED if urgency is Urgency.PAST else Certainty.LIKELY)
    draft.response.append(response)


# Volcano information beside the warnings: its rating by Control/Title (the 臨時 commentary by
# its Head/Title). Areas and facts are read as for the warnings: the volcano and the towns listed.
INFO_RATING: dict[str, tuple[Severity, Urgency, Certainty, ResponseType]] = {
    "火山の状況に関する解説情報": (Severity.MINOR, Urgency.FUTURE, Certainty.POSSIBLE, ResponseType.MONITOR),
    "降灰予報（定時）": (Severity.MINOR, Urgency.FUTURE, Certainty.LIKELY, ResponseType.MONITOR),
    "降灰予報（速報）": (Severity.MODERATE, Urgency.EXPECTED, Certainty.LIKELY, ResponseType.PREPARE),
    "降灰予報（詳細）": (Severity.MODERATE, Urgency.EXPECTED, Certainty.LIKELY, ResponseType.PREPARE),
    "推定噴煙流向報": (Severity.MINOR, Urgency.IMMEDIATE, Certainty.OBSERVED, ResponseType.MONITOR),
}
_EXTRAORDINARY = (Severity.MODERATE, Urgency.EXPECTED, Certainty.POSSIBLE, ResponseType.MONITOR)


def parse_volcano_info(env: Envelope, draft: Draft) -> None:
    parse_volcano(env, draft)
    severity, urgency, certainty, response = INFO_RATING.get(
        env.title, INFO_RATING["火山の状況に関する解説情報"]
    )
    if env.title == "火山の状況に関する解説情報" and "（臨時）" in env.head_title:
        severity, urgency, certainty, response = _EXTRAORDINARY
    draft.rate(severity, urgency, certainty)
    draft.response[:] = [response]
