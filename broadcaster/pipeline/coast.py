"""A tsunami alert as one town hears it: the grade of its own coast (docs/decisions.md, decision 9).

A tsunami telegram grades each 津波予報区 (tsunami forecast region) on its own; the parser rates
the alert by the gravest region anywhere. Each tenant's copy is re-rated here from the regions
that cover the tenant's own coast (its territory's 津波予報区 codes, docs/tsunami-coasts.md):
severity, urgency, response and event name follow the town's grade, so the rules, the priority
and the text follow it too; the town's own regions come first among the areas, so every text
leads with them; and the codes of its own regions are written in `broadcaster:ownCoast` for the
renderer. A town whose own regions are all lifted in the telegram hears the lift as an all-clear
(msgType unchanged: the route stage makes it reach where the warning went, decision 3).

The per-area parameter `tsunamiArea` is the adapters' documented format (docs/jma.md):
code|name|kind code|kind name|...; grades are read from JMA's kind names, as merging does.
"""

from __future__ import annotations

from broadcaster.model import KIND, Alert, Certainty, NamedValue, ResponseType, Severity, Urgency
from broadcaster.rules.facts import TSUNAMI_AREA, Context

OWN_COAST = "broadcaster:ownCoast"
ALL_LIFTED = "allLifted"

# JMA's kind name (before any 「：発表」) → rating on the town's coast, gravest first.
GRADES: tuple[tuple[str, Severity, Urgency, ResponseType | None], ...] = (
    ("大津波警報", Severity.EXTREME, Urgency.IMMEDIATE, ResponseType.EVACUATE),
    ("津波警報", Severity.SEVERE, Urgency.IMMEDIATE, ResponseType.EVACUATE),
    ("津波注意報", Severity.MODERATE, Urgency.IMMEDIATE, ResponseType.AVOID),
    ("津波予報", Severity.MINOR, Urgency.EXPECTED, None),
)
# Kinds that end a warning or an advisory on a coast.
LIFTS = ("警報解除", "津波注意報解除")
# 津波予報（若干の海面変動） that replaces a lifted advisory (72) or warning (73): for the town
# the warning is over, even though small sea-level changes go on.
LOWERED = ("72", "73")
LIFTED_EVENT = "津波警報・注意報解除"
_RESPONSES = {ResponseType.EVACUATE, ResponseType.AVOID, ResponseType.ALL_CLEAR}


def kind_name(value: str) -> str:
    return value.split("：")[0].split(":")[0].strip()


def grade_of(kind: str) -> int | None:
    """Index into GRADES (0 gravest) of a JMA kind name; None for a lift or no tsunami."""
    name = kind_name(kind)
    for i, (grade, *_rest) in enumerate(GRADES):
        if name == grade or (grade == "津波予報" and name.startswith(grade)):
            return i
    return None


def localize(alert: Alert, ctx: Context) -> Alert:
    """The tenant's copy of a tsunami alert, rated by its own coast; other alerts unchanged.

    A coast whose warning or advisory ends gets `allLifted` (a lift for this town, whatever other
    coasts still have)."""
    if not alert.info:
        return alert
    info = alert.primary
    if KIND not in {c.value_name for c in info.event_code} or "tsunami" not in info.event_codes(KIND):
        return alert
    rows = [p for p in info.parameter if p.value_name == "tsunamiArea"]
    if not rows:
        return alert  # 沖合の津波観測 and cancels name no forecast region
    own = [p for p in rows if (TSUNAMI_AREA, p.value.split("|")[0]) in ctx.territory]
    graded = [(g, p) for p in own if (g := grade_of(_field(p, 3))) is not None]
    update: dict[str, object] = {}
    marks = [NamedValue(value_name=OWN_COAST, value=",".join(p.value.split("|")[0] for p in own))]
    kept = tuple(r for r in info.response_type if r not in _RESPONSES)
    lowered = bool(graded) and all(GRADES[g][0] == "津波予報" and _field(p, 2) in LOWERED for g, p in graded)
    if graded and not lowered:
        best, row = min(graded, key=lambda x: x[0])
        _, severity, urgency, response = GRADES[best]
        update.update(
            severity=severity, urgency=urgency, response_type=kept + ((response,) if response else ())
        )
        if grade_of(info.event) is not None:
            # 津波警報・注意報・予報 is named by its grade (JMA's words); 津波情報 keeps its title.
            update["event"] = kind_name(_field(row, 3))
    ordered = [*own, *(p for p in rows if p not in own)]
    params: list[NamedValue] = []
    for p in info.parameter:
        if p.value_name == "tsunamiArea":
            if ordered:
                params.extend(ordered)
                ordered = []
        elif p.value_name not in (OWN_COAST, ALL_LIFTED):
            params.append(p)
    update["parameter"] = (*params, *marks)
    rated = alert.model_copy(update={"info": (info.model_copy(update=update), *alert.info[1:])})
    # Nothing in force on the town's coast: its regions are lifted (or lowered to 若干の海面変動),
    # or the telegram (an update that reached the town because it had the original) no longer
    # names them. The normalize stage makes this an Update of what the town was told.
    return rated if graded and not lowered else as_lifted(rated)


def as_lifted(alert: Alert) -> Alert:
    """The alert as a lift for its tenant: Minor, Past, Observed, AllClear, `allLifted`."""
    info = alert.primary
    kept = tuple(r for r in info.response_type if r not in _RESPONSES)
    update: dict[str, object] = {
        "severity": Severity.MINOR,
        "urgency": Urgency.PAST,
        "certainty": Certainty.OBSERVED,
        "response_type": (*kept, ResponseType.ALL_CLEAR),
        "parameter": (
            *(p for p in info.parameter if p.value_name != ALL_LIFTED),
            NamedValue(value_name=ALL_LIFTED, value="true"),
        ),
    }
    if grade_of(info.event) is not None:
        update["event"] = LIFTED_EVENT
    return alert.model_copy(update={"info": (info.model_copy(update=update), *alert.info[1:])})


def _field(p: NamedValue, i: int) -> str:
    parts = p.value.split("|")
    return parts[i] if len(parts) > i else ""
