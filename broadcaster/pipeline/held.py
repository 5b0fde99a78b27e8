"""A held alert that will not go out: withdrawn by its author, or rejected by an approver.

Without these an officer who saw a mistake in their own held alert could only wait for a colleague
to approve it and then cancel it, which sends the mistake and its 取消 to every medium. Both are
conditional on the alert still being held, so an approval and a withdrawal racing each other
cannot both take effect.
"""

from __future__ import annotations

import sqlalchemy as sa

from broadcaster.errors import BroadcasterError
from broadcaster.model import now
from broadcaster.model.states import FINAL_STATES
from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger

REASON_LIMIT = 500


class HeldError(BroadcasterError):
    pass


async def _stop(ledger: Ledger, tenant: str, alert_id: str, state: str, why: str) -> bool:
    a, d = t.alerts, t.dispatches

    def work(c: sa.Connection) -> bool:
        changed = c.execute(
            a.update()
            .where(a.c.tenant == tenant, a.c.identifier == alert_id, a.c.state == "held")
            .values(state=state)
        ).rowcount
        if not changed:
            return False
        c.execute(
            d.update()
            .where(d.c.tenant == tenant, d.c.alert_id == alert_id, d.c.state.not_in(FINAL_STATES))
            .values(state="superseded", last_error=why[: REASON_LIMIT + 40], updated=now())
        )
        return True

    return await ledger.db.write(work)


async def held_author(
    ledger: Ledger, tenant: str, alert_id: str, error: type[BroadcasterError] = HeldError
) -> str | None:
    """The author of an alert waiting for approval; `error` if it is unknown or not waiting."""
    row = await ledger.db.read(
        lambda c: c.execute(
            sa.select(t.alerts.c.state, t.alerts.c.submitted_by).where(
                t.alerts.c.tenant == tenant, t.alerts.c.identifier == alert_id
            )
        ).first()
    )
    if row is None:
        raise error(f"no alert {alert_id} for tenant {tenant}")
    if row.state != "held":
        raise error(f"alert {alert_id} is {row.state}, not waiting for approval")
    return str(row.submitted_by) if row.submitted_by else None


async def withdraw(ledger: Ledger, tenant: str, alert_id: str, actor: str, *, origin: str = "cli") -> None:
    """The author takes back their own held alert; nothing of it is ever sent."""
    author = await held_author(ledger, tenant, alert_id)
    if author != actor:
        raise HeldError("only the officer who wrote a held alert can withdraw it; an approver can reject it")
    if not await _stop(ledger, tenant, alert_id, "withdrawn", "withdrawn by its author"):
        raise HeldError(f"alert {alert_id} is no longer waiting for approval")
    await ledger.audit(actor=actor, action="withdraw", tenant=tenant, target=alert_id, origin=origin)


async def reject(
    ledger: Ledger, tenant: str, alert_id: str, approver: str, reason: str, *, origin: str = "cli"
) -> None:
    """A second officer refuses a held alert, saying why; nothing of it is ever sent."""
    reason = reason.strip()[:REASON_LIMIT]
    if not reason:
        raise HeldError("say why the alert is rejected: the author reads it")
    author = await held_author(ledger, tenant, alert_id)
    if author == approver:
        raise HeldError("the author withdraws their own alert rather than rejecting it")
    if not await _stop(ledger, tenant, alert_id, "rejected", f"rejected: {reason}"):
        raise HeldError(f"alert {alert_id} is no longer waiting for approval")
    await ledger.audit(
        actor=approver,
        action="reject",
        tenant=tenant,
        target=alert_id,
        origin=origin,
        detail={"author": author, "reason": reason},
    )
