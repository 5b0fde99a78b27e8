"""What counts as the same real change when several sources report it (docs/architecture.md,
*One alert per real change*; docs/decisions.md, decision 10).

A `Change` is what one alert says happened, reduced to what can be compared across sources that
share no identifiers: the tenant, the kind, the status, a qualifier that tells two changes of one
kind apart (a missile's stage, a tsunami's grade) and when. `choose` is the matching rule; it is
pure, so that it is tested on its own and used unchanged inside the ledger's transaction
(broadcaster/store/merges.py).

Identified sources (JMA's telegrams, L-Alert documents) carry the authority's own identity and are
never matched with one another: two JMA telegrams are two changes, or one telegram twice, which
its identifier already tells. A relay (a J-Alert receiver's e-mail or contact output, a message a
town's script writes, a satellite broadcast) carries the content without that identity and is
matched with whatever reported the change first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from broadcaster.model.alert import Status

# An info parameter naming the relay an alert came through ("jalert/mail", "jalert/contact", …);
# its presence makes the alert a relay in the sense above.
RELAY = "broadcaster:relay"

# How far apart two reports of one change may be, per kind. A receiver's mail and contact follow
# the satellite signal within seconds; JMA's feed is polled once a minute and may lag by minutes.
# The kinds not listed are never matched: their sources (JMA's feeds, L-Alert) are identified.
WINDOWS: dict[str, timedelta] = {
    "missile": timedelta(minutes=3),
    "eew": timedelta(minutes=3),
    "tsunami": timedelta(minutes=10),
    "special_warning": timedelta(minutes=15),
    "volcano": timedelta(minutes=15),
    # The satellite relays JMA's 震度速報 and 震源 within minutes of the telegram (docs/qzss.md).
    "earthquake": timedelta(minutes=10),
    # L-Alert's evacuation information, relayed by the satellite (DCX) minutes after the document.
    "evacuation": timedelta(minutes=15),
}


# The qualifier of every cancel: a cancel is matched only with another source's cancel of the
# same kind, never with the report it cancels.
CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Change:
    """One alert's claim: this happened, to this tenant, at this time."""

    tenant: str
    kind: str
    status: Status
    # Tells two changes of one kind apart when known (missile: launch, take_cover …; tsunami:
    # 大津波警報, 津波警報, 津波注意報); None when the source cannot say (a contact output).
    qualifier: str | None
    at: datetime
    relay: bool
    identifier: str
    event_key: str

    @property
    def window(self) -> timedelta:
        return WINDOWS[self.kind]


@dataclass(frozen=True, slots=True)
class Known:
    """A change already recorded for the tenant: its first alert and what has joined it."""

    change_id: str  # the identifier of the change's first alert
    event_key: str  # the first alert's event key, which later messages of the change continue
    qualifier: str | None
    at: datetime
    # True once an identified source reported it: a second identified report is another change.
    identified: bool


def choose(change: Change, known: Sequence[Known]) -> Known | None:
    """The recorded change this one is a report of, or None when it is a change of its own.

    A report with a qualifier joins a change with the same qualifier, or else one whose qualifier
    is not known yet (which it then refines, so that a different stage or grade later does not
    join it too); one without a qualifier joins the nearest change in time; a cancel joins only a
    cancel. Only changes within
    the kind's window count, and an identified report never joins a change already identified.
    """
    within = [k for k in known if abs(k.at - change.at) <= change.window]
    if not change.relay:
        within = [k for k in within if not k.identified]
    if change.qualifier == CANCEL:
        within = [k for k in within if k.qualifier == CANCEL]
    elif change.qualifier is None:
        within = [k for k in within if k.qualifier != CANCEL]
    else:
        same = [k for k in within if k.qualifier == change.qualifier]
        if not same:
            same = [k for k in within if k.qualifier is None]
        within = same
    if not within:
        return None
    return min(within, key=lambda k: (abs(k.at - change.at), k.at, k.change_id))
