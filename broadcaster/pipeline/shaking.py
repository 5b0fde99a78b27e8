"""An earthquake alert as one town felt it: rated by its own 震度 (docs/decisions.md, decision 9).

JMA's parser rates an earthquake telegram by the strongest shaking anywhere (最大震度). A 震度7 on
the Noto coast made the same telegram Extreme for a town in Hokkaido that felt 震度2: its website,
its CAP feed and any system reading that feed would have shown an Extreme alert for a town where
nothing happened, which is how an alerting system teaches people to ignore it. Each tenant's copy
is re-rated here from the town's own figure (its city's intensity, else its seismic area's, as the
rules read it; 「震度５弱以上未入電」 counts as 5弱). A town the telegram gives no figure for keeps
the telegram's rating: absence of a report is not proof of calm.
"""

from __future__ import annotations

from broadcaster.model import KIND, Alert, MsgType, ResponseType, Severity, Urgency
from broadcaster.rules.facts import Context, Facts
from broadcaster.rules.scales import intensity_rank

_KINDS = frozenset({"earthquake"})


def _rank(value: str) -> int:
    rank = intensity_rank(value)
    assert rank is not None, value
    return rank


# (lowest 震度 rank of the band, rating): the same bands JMA's parser uses for the whole telegram.
_BANDS: tuple[tuple[int, Severity, Urgency], ...] = (
    (_rank("6-"), Severity.EXTREME, Urgency.IMMEDIATE),
    (_rank("5-"), Severity.SEVERE, Urgency.IMMEDIATE),
    (_rank("4"), Severity.MODERATE, Urgency.PAST),
)
_ASSESS_FROM = _rank("5-")


def rating(rank: int) -> tuple[Severity, Urgency]:
    """Severity and urgency of shaking of this 震度 rank."""
    for lowest, severity, urgency in _BANDS:
        if rank >= lowest:
            return severity, urgency
    return Severity.MINOR, Urgency.PAST


def localize_quake(alert: Alert, ctx: Context) -> Alert:
    """The tenant's copy of an earthquake alert, rated by the town's own 震度; others unchanged."""
    if not alert.info or alert.msg_type is MsgType.CANCEL:
        return alert
    info = alert.primary
    if not _KINDS & set(info.event_codes(KIND)):
        return alert
    rank, where = Facts(alert, ctx).intensity
    if rank is None or not where.startswith("in "):
        return alert
    severity, urgency = rating(rank)
    responses: tuple[ResponseType, ...] = tuple(r for r in info.response_type if r is not ResponseType.ASSESS)
    if rank >= _ASSESS_FROM:
        responses = (*responses, ResponseType.ASSESS)
    update = {"severity": severity, "urgency": urgency, "response_type": responses}
    return alert.model_copy(update={"info": (info.model_copy(update=update), *alert.info[1:])})
