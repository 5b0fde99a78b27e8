"""What an officer may still do with an alert, decided from the ledger, never from the page.

A page that was open before somebody else acted (a second tab, a colleague's screen, the back
button) still shows the old buttons; the server is what refuses. An alert that was cancelled, or
replaced by a correction, cannot be cancelled again: one event gets one 取消 per medium.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from broadcaster.model.manual import manual_alert_id, raw_part_of
from broadcaster.store import tables as t
from broadcaster.store.db import Database

CANCEL = "Cancel"


@dataclass(frozen=True)
class Follower:
    identifier: str
    msg_type: str
    sent: datetime
    submitted_by: str | None
    state: str = "routed"


@dataclass(frozen=True)
class Standing:
    """An alert as far as follow-up actions go."""

    identifier: str
    state: str  # received | routed | held | withdrawn | rejected
    msg_type: str
    submitted_by: str | None
    cancelled_by: Follower | None  # a 取消 of its event, recorded or on its way (maybe held)
    superseded_by: Follower | None  # a later correction of its event
    # Cancels of it that were withdrawn or rejected: the next one is a new attempt, with a new id.
    cancel_attempt: int = 0

    @property
    def mark(self) -> str:
        """Changes whenever the actions the page should offer change (for live pages)."""
        cancelled = self.cancelled_by.identifier if self.cancelled_by else ""
        superseded = self.superseded_by.identifier if self.superseded_by else ""
        return f"{self.state}|{cancelled}|{superseded}"

    @property
    def open(self) -> bool:
        """Neither cancelled, nor replaced, nor itself a cancel, nor stopped before it went out."""
        return (
            self.msg_type != CANCEL
            and self.cancelled_by is None
            and self.superseded_by is None
            and self.state not in ("held", "withdrawn", "rejected")
        )


def cancel_raw_id(tenant: str, alert_id: str, attempt: int = 0) -> str:
    """The one raw-event id a console cancel of this alert can have: a second one collides.

    `attempt` counts the cancels of it that an approver rejected or their author withdrew (the
    two-person rule may hold a cancel): those did not cancel it, so the next one may.
    """
    suffix = f"|{attempt}" if attempt else ""
    return hashlib.sha256(f"console-cancel|{tenant}|{alert_id}{suffix}".encode()).hexdigest()[:32]


async def standing(db: Database, tenant: str, alert_id: str) -> Standing | None:
    a = t.alerts

    def work(c: sa.Connection) -> Standing | None:
        row = c.execute(
            sa.select(
                a.c.identifier, a.c.state, a.c.msg_type, a.c.submitted_by, a.c.event_key, a.c.sent
            ).where(a.c.tenant == tenant, a.c.identifier == alert_id)
        ).first()
        if row is None:
            return None
        later = [
            Follower(r.identifier, r.msg_type, r.sent, r.submitted_by, r.state)
            for r in c.execute(
                sa.select(a.c.identifier, a.c.msg_type, a.c.sent, a.c.submitted_by, a.c.state)
                .where(
                    a.c.tenant == tenant,
                    a.c.event_key == row.event_key,
                    a.c.identifier != alert_id,
                    a.c.sent >= row.sent,
                )
                .order_by(a.c.sent, a.c.received)
            )
        ]
        stopped = [f for f in later if f.state in ("withdrawn", "rejected")]
        attempt = sum(1 for f in stopped if f.msg_type == CANCEL)
        # A cancel waiting for approval still blocks a second one; a held correction replaces nothing yet.
        cancel = next((f for f in later if f.msg_type == CANCEL and f not in stopped), None)
        if cancel is None:
            # Sent a moment ago and not yet through normalize: the claim row is already there.
            claim = c.execute(
                sa.select(t.raw_events.c.id, t.raw_events.c.received, t.raw_events.c.submitted_by).where(
                    t.raw_events.c.id == cancel_raw_id(tenant, alert_id, attempt)
                )
            ).first()
            if claim is not None:
                cancel = Follower(
                    manual_alert_id(tenant, claim.id), CANCEL, claim.received, claim.submitted_by, "received"
                )
        update = next(
            (f for f in later if f.msg_type != CANCEL and f.state not in ("held", "withdrawn", "rejected")),
            None,
        )
        return Standing(row.identifier, row.state, row.msg_type, row.submitted_by, cancel, update, attempt)

    return await db.read(work)


async def submitted(db: Database, tenant: str, alert_id: str) -> bool:
    """Whether a manual alert of this id was submitted for this tenant (and may not be recorded yet)."""
    raw_part = raw_part_of(tenant, alert_id)
    if raw_part is None:
        return False
    r = t.raw_events

    def work(c: sa.Connection) -> bool:
        row = c.execute(
            sa.select(r.c.id).where(r.c.tenant == tenant, r.c.id.like(f"{raw_part}%")).limit(1)
        ).first()
        return row is not None

    return await db.read(work)
