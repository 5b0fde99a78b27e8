"""Any telegram without a family parser: a generic alert from its head (Kind.OTHER).

Never dropped: the head's areas (with their codeTypes) and texts are kept, the rating says
Unknown, and rules decide whether anyone needs it.
"""

from __future__ import annotations

from adapters.ingest.jma.draft import Draft
from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.xmltools import NS_METEOROLOGY, attr, every, text
from broadcaster.model import Category, Certainty, Kind, Severity, Urgency

# Free-text parts of the various bodies, in the order they should read.
TEXT_PATHS: tuple[tuple[str, ...], ...] = (
    ("Comment", "Text"),
    ("Comments", "FreeFormComment"),
    ("Text",),
    ("VolcanoInfoContent", "VolcanoHeadline"),
    ("VolcanoInfoContent", "VolcanoActivity"),
    ("VolcanoInfoContent", "VolcanoPrevention"),
    ("EarthquakeInfo", "Text"),
)


def head_areas(env: Envelope, draft: Draft) -> None:
    for info in every(env.headline, "Information"):
        for areas in every(info, "Item", "Areas"):
            code_type = attr(areas, "codeType")
            for area in every(areas, "Area"):
                draft.area(text(area, "Name"), text(area, "Code"), code_type)


def body_texts(env: Envelope, draft: Draft) -> None:
    for path in TEXT_PATHS:
        for el in every(env.body, *path):
            draft.text(text(el))


def parse_generic(env: Envelope, draft: Draft) -> None:
    draft.kind = Kind.OTHER
    draft.event = env.title
    draft.category = Category.MET if env.body_ns == NS_METEOROLOGY else Category.GEO
    head_areas(env, draft)
    body_texts(env, draft)
    draft.rate(Severity.UNKNOWN, Urgency.UNKNOWN, Certainty.UNKNOWN)
