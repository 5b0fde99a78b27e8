"""Every message the pipeline puts on the bus, built in one place: topic, key and headers.

The key decides the partition, and so the order in which a consumer sees messages
(docs/architecture.md, *Topics and keys*): a key formula written out by hand in several places
drifts, and an update that lands on another partition than its alert can overtake it.

| topic | key |
|---|---|
| `ingest.raw` | `tenant|source` (`-` for a source without a tenant) |
| `alerts` | `tenant|event_key` |
| `dispatch.<channel>` | `Dispatch.bus_key`: `tenant|event_key|audience|batch` |
| `receipts` | `tenant|alert` |
"""

from __future__ import annotations

from collections.abc import Mapping

from broadcaster.bus import Outgoing
from broadcaster.bus.topics import ALERTS, INGEST_RAW, RECEIPTS, dispatch_topic
from broadcaster.model import Alert, Dispatch, DispatchOrder, RawEvent, Receipt
from broadcaster.pipeline.hops import H_RECEIVED, H_REDRIVE, H_TENANT


def raw_key(raw: RawEvent) -> str:
    # Raw events of one source stay in order (a JMA warning and its correction).
    return f"{raw.tenant or '-'}|{raw.source}"


def alert_key(alert: Alert) -> str:
    # An alert, its updates and its cancel share the event key: routed in order.
    return f"{alert.tenant}|{alert.event_key}"


def raw_message(raw: RawEvent, *, redrive: bool = False) -> Outgoing:
    headers = {H_RECEIVED: raw.received.isoformat()}
    if raw.tenant:
        headers[H_TENANT] = raw.tenant
    if redrive:
        headers[H_REDRIVE] = "raw"
    return Outgoing(INGEST_RAW, raw.model_dump_json().encode("utf-8"), raw_key(raw), headers)


def alert_message(alert: Alert, headers: Mapping[str, str] | None = None) -> Outgoing:
    """An alert for the route stage. Without `headers`: the tenant, and the alert's own time of
    receipt as the first hop (the System alerts the pipeline raises itself)."""
    if headers is None:
        headers = {H_TENANT: alert.tenant or "", H_RECEIVED: (alert.received or alert.sent).isoformat()}
    return Outgoing(ALERTS, alert.model_dump_json(by_alias=True).encode("utf-8"), alert_key(alert), dict(headers))


def order_message(alert: Alert, dispatch: Dispatch, headers: Mapping[str, str]) -> Outgoing:
    """A dispatch with its alert, for the channel's worker."""
    order = DispatchOrder(dispatch=dispatch, alert=alert)
    return Outgoing(
        dispatch_topic(dispatch.channel),
        order.model_dump_json(by_alias=True).encode("utf-8"),
        key=dispatch.bus_key,
        headers=dict(headers),
    )


def receipt_message(receipt: Receipt) -> Outgoing:
    """What became of one attempt, for the ledger stage's roll-up of the alert."""
    return Outgoing(
        RECEIPTS, receipt.model_dump_json().encode("utf-8"), f"{receipt.tenant}|{receipt.alert_id}", {}
    )
