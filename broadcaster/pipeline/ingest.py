"""How raw input enters the pipeline: one durable publish to ingest.raw."""

from __future__ import annotations

from broadcaster.bus import Bus
from broadcaster.bus.topics import INGEST_RAW
from broadcaster.model import RawEvent
from broadcaster.pipeline.hops import H_RECEIVED, H_TENANT


async def submit(bus: Bus, raw: RawEvent) -> None:
    """Returns once the raw event is durable on the bus: from then on it cannot be lost."""
    headers = {H_RECEIVED: raw.received.isoformat()}
    if raw.tenant:
        headers[H_TENANT] = raw.tenant
    # Raw events of one source stay in order (a JMA warning and its correction).
    key = f"{raw.tenant or '-'}|{raw.source}"
    await bus.publish(INGEST_RAW, raw.model_dump_json().encode("utf-8"), key=key, headers=headers)
