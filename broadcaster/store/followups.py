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

from broadcaster.store import tables as t
from broadcaster.store.db import Database

CANCEL = "Cancel"


@dataclass(frozen=True)
class Follower:
    identifier: str
    msg_type: str
    sent: datetime
    submitted_by: str | None


@dataclass(frozen=True)
class Standing:
    """An alert as far as follow-up actions go."""

    identifier: str
    state: str  # received | routed | held | withdrawn | rejected
    msg_type: str
    submitted_by: str | None
    cancelled_by: Follower | None  # a 取消 of its event, recorded or on its way
    superseded_by: Follower | None  # a later correction of its event

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


def cancel_raw_id(tenant: str, alert_id: str) -> str:
    """The one raw-event id a console cancel of this alert can have: a second one collides."""
    return hashlib.sha256(f"console-cancel|{tenant}|{alert_id}".encode()).hexdigest()[:32]


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
            Follower(r.identifier, r.msg_type, r.sent, r.submitted_by)
            for r in c.execute(
                sa.select(a.c.identifier, a.c.msg_type, a.c.sent, a.c.submitted_by, a.c.state)
                .where(
                    a.c.tenant == tenant,
                    a.c.event_key == row.event_key,
                    a.c.identifier != alert_id,
                    a.c.sent >= row.sent,
                    # A correction still waiting for approval, or withdrawn, replaces nothing yet.
                    a.c.state.not_in(["held", "withdrawn", "rejected"]),
                )
                .order_by(a.c.sent, a.c.received)
            )
        ]
        cancel = next((f for f in later if f.msg_type == CANCEL), None)
        if cancel is None:
            # Sent a moment ago and not yet through normalize: the claim row is already there.
            claim = c.execute(
                sa.select(t.raw_events.c.id, t.raw_events.c.received, t.raw_events.c.submitted_by).where(
                    t.raw_events.c.id == cancel_raw_id(tenant, alert_id)
                )
            ).first()
            if claim is not None:
                cancel = Follower(f"m-{tenant}-{claim.id[:24]}", CANCEL, claim.received, claim.submitted_by)
        update = next((f for f in later if f.msg_type != CANCEL), None)
        return Standing(row.identifier, row.state, row.msg_type, row.submitted_by, cancel, update)

    return await db.read(work)
