"""土砂災害警戒情報 and its successor レベル４土砂災害危険警報 (VXWW50, one Control/Title for both).

Both are 警戒レベル４相当: everyone in danger zones evacuates. Per town the body says 発表, 継続,
解除 or なし; towns with なし are not part of the alert.
"""

from __future__ import annotations

from adapters.ingest.jma.draft import LANDSLIDE_CODE, Draft, join
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.warnitems import combined, from_body, from_head
from adapters.ingest.jma.xmltools import text
from broadcaster.model import Category, Certainty, Kind, ResponseType, Severity, Urgency

LEVEL4_NAME = "レベル４土砂災害危険警報"
LANDSLIDE_LEVEL = 4


def parse_landslide(env: Envelope, draft: Draft) -> None:
    draft.category = Category.GEO
    draft.kind = Kind.LANDSLIDE
    # The same telegram is titled by its head: 「…土砂災害警戒情報」 or 「…レベル４土砂災害危険警報」.
    name = LEVEL4_NAME if env.head_title.endswith(LEVEL4_NAME) else "土砂災害警戒情報"
    items = combined(from_body(env.body, "土砂災害警戒情報"), from_head(env.headline, "土砂災害警戒情報"))
    active = lifted = 0
    for item in items:
        if not item.affected:
            continue
        draft.area(item.name, item.code, item.code_type)
        for k in item.kinds:
            active += k.active
            lifted += k.lifted
            if k.active or k.lifted:
                draft.param("landslide", join(item.code, item.name, k.code, k.status))
    target = text(env.body, "TargetArea", "Code")
    if target:
        draft.param("targetArea", join(target, text(env.body, "TargetArea", "Name")))
    if active:
        draft.event = name
        draft.level = LANDSLIDE_LEVEL
        draft.code(LANDSLIDE_CODE, "3")
        draft.rate(Severity.SEVERE, Urgency.IMMEDIATE, Certainty.LIKELY)
        draft.response.append(ResponseType.EVACUATE)
    elif lifted:
        draft.event = f"{name}解除"
        draft.code(LANDSLIDE_CODE, "1")
        draft.param("allLifted", "true")
        draft.rate(Severity.MINOR, Urgency.PAST, Certainty.OBSERVED)
        draft.response.append(ResponseType.ALL_CLEAR)
    else:
        draft.event = name
        draft.rate(Severity.SEVERE, Urgency.UNKNOWN, Certainty.UNKNOWN)
