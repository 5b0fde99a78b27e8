"""The consistency guard's records on both databases: one alarm per wrong surface until it agrees
again, and a state that did not change is not written again at every look."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from broadcaster.store import consistency
from broadcaster.store import tables as t
from broadcaster.store.consistency import MediumState
from broadcaster.store.ledger import Ledger

T0 = datetime(2026, 8, 1, 3, 0, tzinfo=UTC)


def _state(problem: str | None, carried: str | None = "a1") -> MediumState:
    return MediumState("x", "x", "provider", "a2", carried, problem, {"expected": {"msg_type": "Update"}}, T0)


async def test_an_alarm_opens_once_stays_while_wrong_and_clears_when_the_medium_agrees(
    ledger: Ledger,
) -> None:
    await ledger.ensure_tenants([("anamizu", "穴水町")])
    raised, cleared = await consistency.record(ledger.db, "anamizu", "ev", [_state("stale")], T0)
    assert [a.surface for a in raised] == ["x"] and cleared == []
    again, _ = await consistency.record(
        ledger.db, "anamizu", "ev", [_state("stale")], T0 + timedelta(seconds=10)
    )
    assert again == [] and len(await consistency.alarms(ledger.db, "anamizu")) == 1

    def checked(c: sa.Connection) -> datetime:
        return c.execute(sa.select(t.medium_states.c.checked)).scalar_one()

    assert await ledger.db.read(checked) == T0, "an unchanged state is not written again"
    _, cleared = await consistency.record(
        ledger.db, "anamizu", "ev", [_state(None, "a2")], T0 + timedelta(seconds=20)
    )
    assert [a.surface for a in cleared] == ["x"] and await consistency.alarms(ledger.db, "anamizu") == []
    (closed,) = await consistency.alarms(ledger.db, "anamizu", open_only=False)
    assert closed.cleared == T0 + timedelta(seconds=20) and closed.detection_s == 0.0
    (now_,) = await consistency.states_of(ledger.db, "anamizu", "ev")
    assert (now_.problem, now_.carried_id) == (None, "a2")
