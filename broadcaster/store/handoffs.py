"""Texts handed to an officer to send by hand, and the officer's confirmation that they were sent.

A channel in hand-off mode (緊急速報メール while a town has no carrier link) cannot send itself:
it fits the text to the carrier and hands it over. The channel worker records the hand-off here
before the dispatch counts as done, so that no crash can lose it; the console lists what is
waiting, and an officer's confirmation records who sent it and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from broadcaster.channels import HandOff
from broadcaster.model import Dispatch, now
from broadcaster.store import tables as t
from broadcaster.store.db import Database


@dataclass(frozen=True, slots=True)
class HandOffRow:
    key: str
    tenant: str
    alert_id: str
    channel: str
    status: str
    target: str
    where_to: str
    area: str
    title: str
    body: str
    notes: tuple[str, ...]
    created: datetime
    confirmed_at: datetime | None
    confirmed_by: str | None
    headline: str | None = None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


def _insert_ignore(c: sa.Connection) -> sa.sql.Insert:
    if c.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(t.handoffs).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(t.handoffs).on_conflict_do_nothing()


async def record(db: Database, dispatch: Dispatch, status: str, handoff: HandOff) -> None:
    """Once per dispatch: a retry after a crash keeps the first hand-off (and its confirmation)."""
    row = {
        "key": dispatch.key,
        "tenant": dispatch.tenant,
        "alert_id": dispatch.alert_id,
        "channel": dispatch.channel,
        "status": status,
        "target": handoff.target[:200],
        "where_to": handoff.where[:200],
        "area": handoff.area[:200],
        "title": handoff.title,
        "body": handoff.body,
        "notes": list(handoff.notes),
        "created": now(),
    }
    await db.write(lambda c: c.execute(_insert_ignore(c), [row]))


def _row(r: sa.Row[tuple[object, ...]]) -> HandOffRow:
    m = r._mapping
    return HandOffRow(
        key=str(m["key"]),
        tenant=str(m["tenant"]),
        alert_id=str(m["alert_id"]),
        channel=str(m["channel"]),
        status=str(m["status"]),
        target=str(m["target"]),
        where_to=str(m["where_to"]),
        area=str(m["area"]),
        title=str(m["title"]),
        body=str(m["body"]),
        notes=tuple(str(n) for n in (m["notes"] or [])),
        created=m["created"],
        confirmed_at=m["confirmed_at"],
        confirmed_by=m["confirmed_by"],
        headline=m.get("headline"),
    )


async def listed(db: Database, tenant: str, *, limit: int = 50) -> list[HandOffRow]:
    """The tenant's hand-offs: waiting ones first (oldest first), then the confirmed, newest first."""
    h, a = t.handoffs, t.alerts
    query = (
        sa.select(h, a.c.headline)
        .select_from(h.outerjoin(a, sa.and_(a.c.tenant == h.c.tenant, a.c.identifier == h.c.alert_id)))
        .where(h.c.tenant == tenant)
    )
    waiting = query.where(h.c.confirmed_at.is_(None)).order_by(h.c.created, h.c.channel)
    done = query.where(h.c.confirmed_at.is_not(None)).order_by(h.c.confirmed_at.desc()).limit(limit)

    def work(c: sa.Connection) -> list[HandOffRow]:
        return [_row(r) for r in c.execute(waiting)] + [_row(r) for r in c.execute(done)]

    return await db.read(work)


async def waiting(db: Database, tenant: str | None = None) -> int:
    h = t.handoffs
    query = sa.select(sa.func.count()).select_from(h).where(h.c.confirmed_at.is_(None))
    if tenant is not None:
        query = query.where(h.c.tenant == tenant)
    return int(await db.read(lambda c: c.execute(query).scalar() or 0))


async def confirm(db: Database, tenant: str, key: str, officer: str) -> HandOffRow | None:
    """Record that `officer` sent it; None when the tenant has no such hand-off. Confirming twice
    keeps the first confirmation."""
    h = t.handoffs

    def work(c: sa.Connection) -> HandOffRow | None:
        c.execute(
            h.update()
            .where(h.c.tenant == tenant, h.c.key == key, h.c.confirmed_at.is_(None))
            .values(confirmed_at=now(), confirmed_by=officer[:200])
        )
        r = c.execute(sa.select(h).where(h.c.tenant == tenant, h.c.key == key)).first()
        return _row(r) if r is not None else None

    return await db.write(work)
