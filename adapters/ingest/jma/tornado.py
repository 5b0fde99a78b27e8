"""竜巻注意情報 (VPHW50) and 竜巻注意情報（目撃情報付き） (VPHW51), also when headed 気象防災速報.

In force for about an hour and never lifted by telegram; a witnessed tornado (Information type
「竜巻注意情報（目撃情報あり）」) raises the certainty.
"""

from __future__ import annotations

from adapters.ingest.jma.draft import TORNADO_CODE, Draft, join
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.warnitems import combined, from_body, from_head
from adapters.ingest.jma.xmltools import attr, every
from broadcaster.model import Category, Certainty, Kind, ResponseType, Severity, Urgency

WITNESSED = "竜巻注意情報（目撃情報あり）"


def parse_tornado(env: Envelope, draft: Draft) -> None:
    draft.category = Category.MET
    draft.kind = Kind.TORNADO
    draft.event = "竜巻注意情報"
    items = combined(from_body(env.body, "竜巻注意情報"), from_head(env.headline, "竜巻注意情報（"))
    for item in items:
        if any(k.active for k in item.kinds):
            draft.area(item.name, item.code, item.code_type)
            draft.param("tornado", join(item.code, item.name))
    witnessed = [
        area
        for info in every(env.headline, "Information")
        if attr(info, "type") == WITNESSED
        for area in every(info, "Item", "Areas", "Area")
    ]
    draft.param("witnessed", "true" if witnessed else "false")
    draft.code(TORNADO_CODE, "1")
    draft.rate(Severity.SEVERE, Urgency.IMMEDIATE, Certainty.LIKELY if witnessed else Certainty.POSSIBLE)
    draft.response.append(ResponseType.SHELTER)
