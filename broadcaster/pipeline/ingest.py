"""How raw input enters the pipeline: recorded in the ledger, then one durable publish.

The ledger row comes first (docs/decisions.md, decision 5): should the bus lose the message (a broker
that restarted with its memory wiped), the re-drive stage finds the raw event still "received"
and publishes it again. Sources are acknowledged only after `submit` returned.
"""

from __future__ import annotations

from broadcaster.bus import Bus
from broadcaster.model import RawEvent
from broadcaster.pipeline.messages import raw_message
from broadcaster.store.ledger import Ledger


async def publish_raw(bus: Bus, raw: RawEvent, *, redrive: bool = False) -> None:
    await bus.publish_many([raw_message(raw, redrive=redrive)])


async def submit(bus: Bus, raw: RawEvent, ledger: Ledger | None = None) -> None:
    """Returns once the raw event is recorded (when a ledger is given) and durable on the bus."""
    if ledger is not None:
        await ledger.record_received(raw)
    await publish_raw(bus, raw)
