"""What the route stage keeps beside the ledger's dispatches: schedules, dedupe marks, rule state.

* Scheduled dispatches (quiet hours, delays, escalations) are dispatches rows in state
  ``scheduled`` with their due time in ``scheduled_dispatches``; the releaser turns the due ones
  into ``pending`` in one statement per batch, so two route workers never both publish one.
* Dedupe marks remember, per (channel, audience), the last alert that went out under a mark.
* ``rules_state`` shows which rule set each tenant routes with and the last edit refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from broadcaster.model import Dispatch, now
from broadcaster.model.states import AlertState, DispatchState
from broadcaster.store import tables as t
from broadcaster.store.audiences import dialect_insert as _insert
from broadcaster.store.db import Database

SCHEDULED = DispatchState.SCHEDULED


@dataclass(frozen=True, slots=True)
class Scheduled:
    dispatch: Dispatch
    due: datetime
    purpose: str  # delay | escalation
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class Earlier:
    dispatch: Dispatch
    state: str


def _row(d: Dispatch, at: datetime) -> dict[str, Any]:
    return {
        "key": d.key,
        "tenant": d.tenant,
        "alert_id": d.alert_id,
        "event_key": d.event_key,
        "channel": d.channel,
        "audience": d.audience,
        "batch": d.batch,
        "batch_count": d.batch_count,
        "template": d.template,
        "priority": d.priority.value,
        "requires_approval": d.requires_approval,
        "state": SCHEDULED,
        "attempts": 0,
        "created": d.created,
        "updated": at,
        "deadline": d.deadline,
        "data": json.loads(d.model_dump_json()),
    }


def write_scheduled(c: sa.Connection, items: Sequence[Scheduled], at: datetime) -> None:
    """Store put-off dispatches, in the caller's unit of work (the route stage records them with
    its dispatches: `Ledger.record_routing`); recording the same ones again changes nothing."""
    if not items:
        return
    c.execute(_insert(c, t.dispatches).on_conflict_do_nothing(), [_row(s.dispatch, at) for s in items])
    c.execute(
        _insert(c, t.scheduled_dispatches).on_conflict_do_nothing(),
        [
            {
                "key": s.dispatch.key,
                "tenant": s.dispatch.tenant,
                "alert_id": s.dispatch.alert_id,
                "due": s.due,
                "purpose": s.purpose,
                "scope": s.scope,
            }
            for s in items
        ],
    )


async def release_due(db: Database, at: datetime | None = None, limit: int = 500) -> list[Dispatch]:
    """Claim the scheduled dispatches now due (of alerts not waiting for approval): pending."""
    at = at or now()
    d, s, a = t.dispatches, t.scheduled_dispatches, t.alerts

    def work(c: sa.Connection) -> list[Dispatch]:
        query = (
            sa.select(d.c.key, d.c.data)
            .select_from(
                s.join(d, d.c.key == s.c.key).join(
                    a, sa.and_(a.c.tenant == s.c.tenant, a.c.identifier == s.c.alert_id)
                )
            )
            .where(s.c.due <= at, d.c.state == SCHEDULED, a.c.state != AlertState.HELD)
            .order_by(s.c.due)
            .limit(limit)
        )
        if c.dialect.name == "postgresql":
            query = query.with_for_update(of=d, skip_locked=True)
        rows = c.execute(query).all()
        claimed: list[Dispatch] = []
        for r in rows:
            done = c.execute(
                d.update().where(d.c.key == r.key, d.c.state == SCHEDULED).values(state=DispatchState.PENDING, updated=at)
            )
            if done.rowcount == 1:
                claimed.append(Dispatch.model_validate(r.data))
        return claimed

    return await db.write(work)


async def acknowledge(db: Database, tenant: str, alert_id: str, district: str | None = None) -> int:
    """The leaders acknowledged: the escalations waiting for them are not needed any more."""
    d, s = t.dispatches, t.scheduled_dispatches

    def work(c: sa.Connection) -> int:
        keys = sa.select(s.c.key).where(
            s.c.tenant == tenant,
            s.c.alert_id == alert_id,
            s.c.purpose == "escalation",
            *([s.c.scope == district] if district is not None else []),
        )
        result = c.execute(
            d.update()
            .where(d.c.key.in_(keys), d.c.state == SCHEDULED)
            .values(state=DispatchState.RECORDED, last_error="acknowledged: escalation not needed", updated=now())
        )
        return int(result.rowcount or 0)

    return await db.write(work)


async def supersede_scheduled(db: Database, tenant: str, alert_ids: Sequence[str]) -> int:
    """A Cancel arrived: what the earlier messages still had scheduled never goes out."""
    if not alert_ids:
        return 0
    d = t.dispatches

    def work(c: sa.Connection) -> int:
        result = c.execute(
            d.update()
            .where(d.c.tenant == tenant, d.c.alert_id.in_(alert_ids), d.c.state == SCHEDULED)
            .values(state=DispatchState.SUPERSEDED, last_error="cancelled before it was due", updated=now())
        )
        return int(result.rowcount or 0)

    return await db.write(work)


async def earlier_dispatches(db: Database, tenant: str, alert_ids: Sequence[str]) -> list[Earlier]:
    if not alert_ids:
        return []
    d = t.dispatches

    def work(c: sa.Connection) -> list[Earlier]:
        rows = c.execute(
            sa.select(d.c.data, d.c.state)
            .where(d.c.tenant == tenant, d.c.alert_id.in_(alert_ids))
            .order_by(d.c.created, d.c.key)
        )
        return [Earlier(Dispatch.model_validate(r.data), r.state) for r in rows]

    return await db.read(work)


async def seen_marks(
    db: Database, tenant: str, alert_id: str, slots: Sequence[tuple[str, str, str]], since: datetime
) -> dict[tuple[str, str, str], datetime]:
    """When another alert last used each (mark, channel, audience) slot, if since `since`."""
    if not slots:
        return {}
    m = t.route_marks
    wanted = set(slots)

    def work(c: sa.Connection) -> dict[tuple[str, str, str], datetime]:
        found: dict[tuple[str, str, str], datetime] = {}
        marks = sorted({s[0] for s in slots})
        for r in c.execute(
            sa.select(m.c.mark, m.c.channel, m.c.audience, m.c.at).where(
                m.c.tenant == tenant, m.c.mark.in_(marks), m.c.at >= since, m.c.alert_id != alert_id
            )
        ):
            slot = (r.mark, r.channel, r.audience)
            if slot in wanted:
                found[slot] = r.at
        return found

    return await db.read(work)


def write_marks(c: sa.Connection, tenant: str, alert_id: str, slots: Sequence[tuple[str, str, str]], at: datetime) -> None:
    """Remember the dedupe marks an alert went out under, in the caller's unit of work (with the
    dispatches they let through: `Ledger.record_routing`)."""
    if not slots:
        return
    m = t.route_marks
    stmt = _insert(c, m)
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant", "mark", "channel", "audience"],
        set_={"alert_id": stmt.excluded.alert_id, "at": stmt.excluded.at},
    )
    c.execute(
        stmt,
        [
            {"tenant": tenant, "mark": mk, "channel": ch, "audience": au, "alert_id": alert_id, "at": at}
            for mk, ch, au in slots
        ],
    )
    # Marks older than a day are of no window's concern; keep the table small.
    c.execute(m.delete().where(m.c.tenant == tenant, m.c.at < at - timedelta(days=2)))


# -- rule sets ---------------------------------------------------------------------------------------


async def record_rules_state(
    db: Database,
    tenant: str,
    *,
    digest: str,
    files: Sequence[str],
    rules: int,
    active_since: datetime,
    error: str | None,
    error_at: datetime | None,
) -> None:
    values = {
        "digest": digest,
        "files": list(files),
        "rules": rules,
        "active_since": active_since,
        "error": error,
        "error_at": error_at,
    }

    def work(c: sa.Connection) -> None:
        stmt = _insert(c, t.rules_state).values(tenant=tenant, **values)
        c.execute(stmt.on_conflict_do_update(index_elements=["tenant"], set_=values))

    await db.write(work)


async def rules_status(db: Database) -> list[dict[str, Any]]:
    r = t.rules_state
    return await db.read(
        lambda c: [dict(row._mapping) for row in c.execute(sa.select(r).order_by(r.c.tenant))]
    )


async def scheduled_of(db: Database, tenant: str, alert_id: str | None = None) -> list[dict[str, Any]]:
    """Scheduled dispatches with their due time and state, for status and tests."""
    d, s = t.dispatches, t.scheduled_dispatches
    query = (
        sa.select(s.c.key, s.c.alert_id, s.c.due, s.c.purpose, s.c.scope, d.c.channel, d.c.audience, d.c.state)
        .select_from(s.join(d, d.c.key == s.c.key))
        .where(s.c.tenant == tenant)
        .order_by(s.c.due, s.c.key)
    )
    if alert_id is not None:
        query = query.where(s.c.alert_id == alert_id)
    return await db.read(lambda c: [dict(r._mapping) for r in c.execute(query)])
