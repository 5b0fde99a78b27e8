"""The ledger stage on SQLite and PostgreSQL: the officers' notice of a dead dispatch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from broadcaster.bus import Ack, Outgoing, Record, Retry
from broadcaster.model import Hops, Receipt, ReceiptStatus
from broadcaster.pipeline.rollup import LedgerStage
from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger


class Bus:
    def __init__(self) -> None:
        self.published: list[Outgoing] = []

    async def publish(self, topic: str, value: bytes, *, key: str, headers: Any = None) -> None:
        self.published.append(Outgoing(topic, value, key, headers or {}))

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        self.published.extend(messages)


def _dead(n: int) -> Record:
    receipt = Receipt(
        dispatch_key=f"k{n}",
        tenant="anamizu",
        alert_id=f"m-anamizu-{n}",
        channel="line",
        audience="public",
        batch=0,
        attempt=5,
        status=ReceiptStatus.DEAD,
        mode="live",
        hops=Hops(),
        error="LINE answered 500 five times",
    )
    return Record("receipts", 0, n, f"anamizu|{receipt.alert_id}", receipt.model_dump_json().encode(), {}, 0.0)


def _fail_alert_writes(ledger: Ledger) -> Any:
    engine = ledger.db.engine  # type: ignore[attr-defined]
    target = getattr(engine, "sync_engine", engine)

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ALERTS"):
            raise RuntimeError("the database went away")

    sa.event.listen(target, "before_cursor_execute", before)
    return lambda: sa.event.remove(target, "before_cursor_execute", before)


async def _notices(ledger: Ledger) -> list[str]:
    a = t.alerts
    rows = await ledger.db.read(
        lambda c: c.execute(sa.select(a.c.identifier).where(a.c.identifier.like("sys-%"))).scalars().all()
    )
    return list(rows)


async def test_a_failure_notice_that_could_not_be_recorded_is_raised_on_the_retry(ledger: Ledger) -> None:
    bus = Bus()
    stage = LedgerStage(bus, ledger)  # type: ignore[arg-type]
    undo = _fail_alert_writes(ledger)
    try:
        try:
            outcome: object = await stage.handle(_dead(1))
        except Exception as e:  # the bus would retry a crashed handler too
            outcome = e
        assert not isinstance(outcome, Ack)
    finally:
        undo()
    assert await _notices(ledger) == []
    assert bus.published == []
    # The redelivered receipt raises the notice: the quiet period had not started.
    assert isinstance(await stage.handle(_dead(1)), Ack)
    assert await _notices(ledger) == ["sys-anamizu-k1"]
    assert len(bus.published) == 1
    # The quiet period holds from here: the next dead dispatch on the same channel adds none.
    assert isinstance(await stage.handle(_dead(2)), Ack)
    assert await _notices(ledger) == ["sys-anamizu-k1"]


async def test_a_notice_that_fails_is_retried_not_crashed(ledger: Ledger) -> None:
    stage = LedgerStage(Bus(), ledger)  # type: ignore[arg-type]
    undo = _fail_alert_writes(ledger)
    try:
        assert isinstance(await stage.handle(_dead(3)), Retry)
    finally:
        undo()
