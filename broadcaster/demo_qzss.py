"""The demo's satellite receiver: a recording of a QZSS receiver's output on the evening of the
Noto earthquake (samples/qzss/, written by scripts/gen_qzss_samples.py) replayed through the QZSS
reader, as a receiver on a serial port would hand it over.

The satellite relays JMA's 震度速報 and 大津波警報 minutes after the feed; each relay must become
no second message to residents but be merged into the alert JMA's telegram already made
(docs/decisions.md, decision 10). The report prints, per town, which alert each relay joined.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from broadcaster import registry
from broadcaster.bus import Bus
from broadcaster.model import RawEvent
from broadcaster.pipeline.feeds import BusSink
from broadcaster.settings import FeedSourceSettings
from broadcaster.store import tables as t
from broadcaster.store.feeds import FeedStore
from broadcaster.store.ledger import Ledger

RECORDING = Path(__file__).resolve().parents[1] / "samples" / "qzss" / "noto_2024_receiver.log"


class _Collecting(BusSink):
    """The reader's sink in the pipeline, remembering what it handed on for the report."""

    def __init__(self, bus: Bus, ledger: Ledger) -> None:
        super().__init__(bus, ledger)
        self.raws: list[RawEvent] = []

    async def submit(self, raw: RawEvent) -> None:
        await super().submit(raw)
        self.raws.append(raw)


async def replay(bus: Bus, ledger: Ledger, echo: Callable[[str], None]) -> list[RawEvent]:
    """Read the recording to its end; the raw events the reader handed on, in order."""
    sink = _Collecting(bus, ledger)
    config = FeedSourceSettings.model_validate({"enabled": True, "device": f"file:{RECORDING}"})
    reader = registry.load(registry.FEEDS, "qzss")(config, sink=sink, store=FeedStore(ledger.db, "qzss"))
    await reader.read_file(RECORDING)
    health = reader.health
    echo(f"    receiver: {health.handed_on} messages handed on, {health.repeats} repeats of the broadcast "
         f"dropped, {health.refused} damaged copies dropped")
    return sink.raws


async def report(ledger: Ledger, raws: list[RawEvent], echo: Callable[[str], None]) -> None:
    """Per relay and town: merged into which alert, or sent as its own."""
    ids = [r.id for r in raws]
    rows = await ledger.db.read(
        lambda c: c.execute(
            sa.select(t.alerts.c.tenant, t.alerts.c.identifier, t.alerts.c.state, t.alerts.c.headline)
            .where(t.alerts.c.raw_event_id.in_(ids))
            .order_by(t.alerts.c.tenant, t.alerts.c.identifier)
        ).all()
    )
    if not rows:
        echo("    no town's areas in the relayed messages")
    for row in rows:
        first = await ledger.merged_into(row.tenant, row.identifier)
        what = f"merged into {first}" if first else f"sent as its own alert ({row.state})"
        echo(f"    {row.tenant}: {row.headline or row.identifier} → {what}")
