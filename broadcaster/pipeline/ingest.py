"""How raw input enters the pipeline: recorded in the ledger, then one durable publish.

The ledger row comes first (docs/decisions.md, decision 5): should the bus lose the message (a broker
that restarted with its memory wiped), the re-drive stage finds the raw event still "received"
and publishes it again. Sources are acknowledged only after `submit` returned.
"""

from __future__ import annotations

from broadcaster.bus import Bus
from broadcaster.bus.topics import INGEST_RAW
from broadcaster.model import RawEvent
from broadcaster.pipeline.hops import H_RECEIVED, H_TENANT
from broadcaster.store.ledger import Ledger


async def publish_raw(bus: Bus, raw: RawEvent, *, redrive: bool = False) -> None:
    headers = {H_RECEIVED: raw.received.isoformat()}
    if raw.tenant:
        headers[H_TENANT] = raw.tenant
    if redrive:
        headers["x-redrive"] = "raw"
    # Raw events of one source stay in order (a JMA warning and its correction).
    key = f"{raw.tenant or '-'}|{raw.source}"
    await bus.publish(INGEST_RAW, raw.model_dump_json().encode("utf-8"), key=key, headers=headers)


async def submit(bus: Bus, raw: RawEvent, ledger: Ledger | None = None) -> None:
    """Returns once the raw event is recorded (when a ledger is given) and durable on the bus."""
    if ledger is not None:
        await ledger.record_received(raw)
    await publish_raw(bus, raw)
