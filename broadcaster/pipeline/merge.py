"""One alert per real change: which change an alert reports (docs/architecture.md, *One alert per
real change*; docs/decisions.md, decision 10).

The normalize stage asks `change_of` for each new per-tenant alert; the ledger then claims the
change in the same transaction that records the alert (broadcaster/store/merges.py): the first
report of a change is routed, every later one is recorded as merged into it and sent nowhere.
Follow-ups (an update, a cancel) of a merged report continue the first report's event
(`Ledger.continue_merged`), so a later stage or a cancel reaches where the first one went.

The matching rule itself is pure and lives in broadcaster/model/change.py.
"""

from __future__ import annotations

from broadcaster.model import KIND, Alert, MsgType
from broadcaster.model.change import CANCEL, RELAY, WINDOWS, Change
from broadcaster.render.facts import missile_stage
from broadcaster.rules.facts import Context, Facts

# A tsunami's grade, gravest first, as JMA names it in the town's forecast area or as a relay's
# title says it.
TSUNAMI_GRADES = ("大津波警報", "津波警報", "津波注意報")


def tsunami_grade(alert: Alert, ctx: Context) -> str | None:
    """The gravest tsunami grade in force in the town, or the one a relay's words name."""
    local = Facts(alert, ctx).warnings
    for grade in TSUNAMI_GRADES:
        if grade in local:
            return grade
    info = alert.primary
    words = " ".join(w for w in (info.event, info.headline or "") if w)
    return next((g for g in TSUNAMI_GRADES if g in words), None)


def change_of(alert: Alert, ctx: Context) -> Change | None:
    """The change a report of a matched kind claims; None for the rest.

    Updates and cancels are reports too: a tsunami warning lowered to an advisory comes from JMA's
    feed and from the receiver's mail alike, and so does a cancel. Officers' messages are
    deliberate and never matched.
    """
    if alert.tenant is None or alert.origin == "manual" or not alert.info:
        return None
    info = alert.primary
    kinds = info.event_codes(KIND)
    kind = kinds[0] if kinds else ""
    if kind not in WINDOWS:
        return None
    qualifier: str | None = None
    if alert.msg_type is MsgType.CANCEL:
        qualifier = CANCEL
    elif kind == "missile":
        qualifier = missile_stage(info)
    elif kind == "tsunami":
        qualifier = tsunami_grade(alert, ctx)
    elif kind == "earthquake":
        # 震度速報 and 震源に関する情報 of one earthquake are two changes; the relay names its title.
        titles = info.event_codes("jma:title")
        qualifier = titles[0] if titles else None
    return Change(
        tenant=alert.tenant,
        kind=kind,
        status=alert.status,
        qualifier=qualifier,
        at=alert.sent,
        relay=info.param(RELAY) is not None,
        identifier=alert.identifier,
        event_key=alert.event_key,
    )
