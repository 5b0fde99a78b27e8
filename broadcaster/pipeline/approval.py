"""The two-person rule: an officer's Actual alert that the rules hold waits for a second officer."""

from __future__ import annotations

import sqlalchemy as sa

from broadcaster.bus import Bus
from broadcaster.errors import BroadcasterError
from broadcaster.model import now
from broadcaster.pipeline.hops import H_RECEIVED, H_ROUTED, H_TENANT
from broadcaster.pipeline.route import order_message
from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger


class ApprovalError(BroadcasterError):
    pass


async def approve(
    bus: Bus, ledger: Ledger, tenant: str, alert_id: str, approver: str, *, origin: str = "cli"
) -> int:
    """Release a held alert to every channel at once; returns the number of dispatches sent."""
    row = await ledger.db.read(
        lambda c: c.execute(
            sa.select(t.alerts.c.state, t.alerts.c.submitted_by).where(
                t.alerts.c.tenant == tenant, t.alerts.c.identifier == alert_id
            )
        ).first()
    )
    if row is None:
        raise ApprovalError(f"no alert {alert_id} for tenant {tenant}")
    if row.state != "held":
        raise ApprovalError(f"alert {alert_id} is {row.state}, not waiting for approval")
    if row.submitted_by == approver:
        raise ApprovalError("the author cannot approve their own alert: a second officer must")
    alert = await ledger.alert(tenant, alert_id)
    assert alert is not None
    dispatches = await ledger.release_held(tenant, alert_id)
    headers = {
        H_TENANT: tenant,
        H_RECEIVED: (alert.received or alert.sent).isoformat(),
        H_ROUTED: now().isoformat(),
    }
    await bus.publish_many([order_message(alert, d, headers) for d in dispatches])
    await ledger.audit(
        actor=approver,
        action="approve",
        tenant=tenant,
        target=alert_id,
        origin=origin,
        detail={"author": row.submitted_by, "dispatches": len(dispatches)},
    )
    return len(dispatches)
