"""An officer's republish: dead or failed dispatches of an alert go out again, one channel or one target
(or, from the consistency guard's alarm, also an accepted one the medium does not show).

The dispatch keeps its idempotency key: where the provider honours it, a send it had in fact
accepted is not delivered twice.
"""

from __future__ import annotations

from broadcaster.bus import Bus
from broadcaster.errors import BroadcasterError
from broadcaster.model import now
from broadcaster.pipeline.hops import H_RECEIVED, H_REDRIVE, H_ROUTED, H_TENANT
from broadcaster.pipeline.messages import order_message
from broadcaster.store.ledger import Ledger


class RepublishError(BroadcasterError):
    pass


async def republish(
    bus: Bus,
    ledger: Ledger,
    tenant: str,
    alert_id: str,
    *,
    actor: str,
    channel: str | None = None,
    key: str | None = None,
    origin: str = "cli",
    accepted_too: bool = False,
) -> int:
    """`accepted_too`: also what the provider accepted, for a medium the consistency guard found
    not showing it (docs/consistency.md); a dispatch still in flight is never sent twice."""
    alert = await ledger.alert(tenant, alert_id)
    if alert is None:
        raise RepublishError(f"no alert {alert_id} for tenant {tenant}")
    states = ("dead", "failed", "accepted") if accepted_too else ("dead", "failed")
    dispatches = await ledger.reopen_dispatches(tenant, alert_id, channel=channel, key=key, states=states)
    headers = {
        H_TENANT: tenant,
        H_RECEIVED: (alert.received or alert.sent).isoformat(),
        H_ROUTED: now().isoformat(),
        H_REDRIVE: "republish",
    }
    await bus.publish_many([order_message(alert, d, headers) for d in dispatches])
    await ledger.audit(
        actor=actor,
        action="republish",
        tenant=tenant,
        target=alert_id,
        origin=origin,
        detail={"channel": channel, "dispatch": key, "count": len(dispatches)},
    )
    return len(dispatches)
