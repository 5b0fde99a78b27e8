"""The consistency guard's records: what each medium showed of an event, and the alarms raised.

Each function is one unit of work (docs/decisions.md, decision 16). The guard itself is
broadcaster/consistency/guard.py; what it compares, docs/consistency.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from broadcaster.model import Alert
from broadcaster.store import tables as t
from broadcaster.store.db import Database

# Problems that raise an alarm; "waiting" (a medium not yet showing a state that is not yet due)
# is shown but is no alarm.
ALARMS = frozenset({"stale", "differs"})


@dataclass(frozen=True, slots=True)
class MediumState:
    """One surface of one medium for one event, as the guard last saw it."""

    channel: str
    surface: str
    source: str  # "medium" or "provider"
    expected_id: str | None
    carried_id: str | None
    problem: str | None
    # {"expected": {...}, "carried": {...}, "differences": [field, ...], "where": "..."}
    facts: dict[str, Any] = field(default_factory=dict)
    due: datetime | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """One dispatch of the event, as much as the guard needs."""

    alert_id: str
    channel: str
    state: str
    created: datetime
    accepted_at: datetime | None


@dataclass(frozen=True, slots=True)
class Alarm:
    id: int
    tenant: str
    event_key: str
    surface: str
    channel: str
    problem: str
    expected_id: str | None
    carried_id: str | None
    facts: dict[str, Any]
    due: datetime | None
    raised: datetime
    cleared: datetime | None
    republished: datetime | None
    republished_by: str | None

    @property
    def detection_s(self) -> float | None:
        """From when the medium should have shown the state to the alarm."""
        return (self.raised - self.due).total_seconds() if self.due is not None else None


async def recent_events(db: Database, since: datetime) -> list[tuple[str, str]]:
    """(tenant, event_key) of every event with a message received since `since`."""

    def work(c: sa.Connection) -> list[tuple[str, str]]:
        rows = c.execute(
            sa.select(t.alerts.c.tenant, t.alerts.c.event_key)
            .where(t.alerts.c.received >= since, t.alerts.c.state != "merged")
            .distinct()
        )
        return sorted((r.tenant, r.event_key) for r in rows)

    return await db.read(work)


async def event(db: Database, tenant: str, event_key: str) -> tuple[list[Alert], list[Sent]]:
    """The event's messages, oldest first (by the source's `sent`, then by when received), and
    their dispatches."""

    def work(c: sa.Connection) -> tuple[list[Alert], list[Sent]]:
        rows = c.execute(
            sa.select(t.alerts.c.data)
            .where(
                t.alerts.c.tenant == tenant, t.alerts.c.event_key == event_key, t.alerts.c.state != "merged"
            )
            .order_by(t.alerts.c.sent, t.alerts.c.received)
        )
        alerts = [Alert.model_validate(r.data) for r in rows]
        d = t.dispatches.c
        sent = [
            Sent(r.alert_id, r.channel, r.state, r.created, r.accepted_at)
            for r in c.execute(
                sa.select(d.alert_id, d.channel, d.state, d.created, d.accepted_at).where(
                    d.tenant == tenant, d.event_key == event_key
                )
            )
        ]
        return alerts, sent

    return await db.read(work)


async def record(
    db: Database, tenant: str, event_key: str, states: Sequence[MediumState], at: datetime
) -> tuple[list[Alarm], list[Alarm]]:
    """Replace the event's medium states; open an alarm for each surface newly wrong, clear those
    that agree again. Returns (raised, cleared)."""

    def work(c: sa.Connection) -> tuple[list[Alarm], list[Alarm]]:
        a = t.consistency_alarms.c
        open_rows = {
            r.surface: r
            for r in c.execute(
                sa.select(t.consistency_alarms).where(
                    a.tenant == tenant, a.event_key == event_key, a.cleared.is_(None)
                )
            )
        }
        raised: list[Alarm] = []
        cleared: list[Alarm] = []
        seen: set[str] = set()
        m = t.medium_states.c
        before = {
            r.surface: (r.channel, r.source, r.expected_id, r.carried_id, r.problem, r.facts, r.due)
            for r in c.execute(sa.select(t.medium_states).where(m.tenant == tenant, m.event_key == event_key))
        }
        for s in states:
            seen.add(s.surface)
            unchanged = before.get(s.surface) == (
                s.channel,
                s.source,
                s.expected_id,
                s.carried_id,
                s.problem,
                s.facts,
                s.due,
            )
            if not unchanged:
                # Written only when it changed: the guard looks every few seconds at every
                # recent event, and the same state need not be written again each time.
                _replace_state(c, tenant, event_key, s, at)
            was = open_rows.get(s.surface)
            if s.problem in ALARMS and was is None:
                values = {
                    "tenant": tenant,
                    "event_key": event_key,
                    "surface": s.surface,
                    "channel": s.channel,
                    "problem": s.problem,
                    "expected_id": s.expected_id,
                    "carried_id": s.carried_id,
                    "facts": s.facts,
                    "due": s.due,
                    "raised": at,
                }
                new_id = c.execute(t.consistency_alarms.insert().values(**values)).inserted_primary_key
                assert new_id is not None
                raised.append(_alarm({**values, "id": new_id[0], "cleared": None, "republished": None}))
            elif s.problem in ALARMS and was is not None:
                if (was.problem, was.carried_id, was.facts) == (s.problem, s.carried_id, s.facts):
                    continue
                # Still wrong: keep the alarm, with what the medium shows now.
                c.execute(
                    t.consistency_alarms.update()
                    .where(a.id == was.id)
                    .values(problem=s.problem, carried_id=s.carried_id, facts=s.facts)
                )
            elif was is not None:
                c.execute(t.consistency_alarms.update().where(a.id == was.id).values(cleared=at))
                cleared.append(_alarm({**was._mapping, "cleared": at}))
        for surface, was in open_rows.items():
            if surface not in seen:  # the surface is no longer judged (the event ended there)
                c.execute(t.consistency_alarms.update().where(a.id == was.id).values(cleared=at))
                cleared.append(_alarm({**was._mapping, "cleared": at}))
        return raised, cleared

    return await db.write(work)


def _replace_state(c: sa.Connection, tenant: str, event_key: str, s: MediumState, at: datetime) -> None:
    m = t.medium_states.c
    c.execute(
        t.medium_states.delete().where(m.tenant == tenant, m.event_key == event_key, m.surface == s.surface)
    )
    c.execute(
        t.medium_states.insert().values(
            tenant=tenant,
            event_key=event_key,
            surface=s.surface,
            channel=s.channel,
            source=s.source,
            expected_id=s.expected_id,
            carried_id=s.carried_id,
            problem=s.problem,
            facts=s.facts,
            due=s.due,
            checked=at,
        )
    )


def _alarm(row: Any) -> Alarm:
    return Alarm(
        id=row["id"],
        tenant=row["tenant"],
        event_key=row["event_key"],
        surface=row["surface"],
        channel=row["channel"],
        problem=row["problem"],
        expected_id=row.get("expected_id"),
        carried_id=row.get("carried_id"),
        facts=dict(row.get("facts") or {}),
        due=row.get("due"),
        raised=row["raised"],
        cleared=row.get("cleared"),
        republished=row.get("republished"),
        republished_by=row.get("republished_by"),
    )


async def alarms(db: Database, tenant: str | None = None, *, open_only: bool = True) -> list[Alarm]:
    """Alarms, newest first; one tenant's or every tenant's."""

    def work(c: sa.Connection) -> list[Alarm]:
        a = t.consistency_alarms.c
        q = sa.select(t.consistency_alarms).order_by(a.raised.desc(), a.id.desc())
        if tenant is not None:
            q = q.where(a.tenant == tenant)
        if open_only:
            q = q.where(a.cleared.is_(None))
        return [_alarm(r._mapping) for r in c.execute(q)]

    return await db.read(work)


async def alarm(db: Database, tenant: str, alarm_id: int) -> Alarm | None:
    def work(c: sa.Connection) -> Alarm | None:
        a = t.consistency_alarms.c
        row = c.execute(sa.select(t.consistency_alarms).where(a.tenant == tenant, a.id == alarm_id)).first()
        return _alarm(row._mapping) if row is not None else None

    return await db.read(work)


async def mark_republished(db: Database, tenant: str, alarm_id: int, actor: str, at: datetime) -> None:
    def work(c: sa.Connection) -> None:
        a = t.consistency_alarms.c
        c.execute(
            t.consistency_alarms.update()
            .where(a.tenant == tenant, a.id == alarm_id)
            .values(republished=at, republished_by=actor)
        )

    await db.write(work)


async def states_of(db: Database, tenant: str, event_key: str) -> list[MediumState]:
    """The event's current state per medium, as last checked."""

    def work(c: sa.Connection) -> list[MediumState]:
        m = t.medium_states.c
        rows = c.execute(
            sa.select(t.medium_states)
            .where(m.tenant == tenant, m.event_key == event_key)
            .order_by(m.channel, m.surface)
        )
        return [
            MediumState(
                r.channel,
                r.surface,
                r.source,
                r.expected_id,
                r.carried_id,
                r.problem,
                dict(r.facts or {}),
                r.due,
            )
            for r in rows
        ]

    return await db.read(work)


async def checked_events(db: Database, tenant: str) -> list[tuple[str, int]]:
    """(event_key, surfaces with a problem) of every event the guard has looked at."""

    def work(c: sa.Connection) -> list[tuple[str, int]]:
        m = t.medium_states.c
        wrong = sa.func.sum(sa.case((m.problem.in_(sorted(ALARMS)), 1), else_=0))
        rows = c.execute(
            sa.select(m.event_key, wrong.label("wrong"))
            .where(m.tenant == tenant)
            .group_by(m.event_key)
            .order_by(sa.func.max(m.checked).desc())
        )
        return [(r.event_key, int(r.wrong or 0)) for r in rows]

    return await db.read(work)
