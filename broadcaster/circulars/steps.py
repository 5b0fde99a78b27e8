"""The ledger side of reminders, escalation and notices: what is due, who takes it, what is left.

A step is taken by one conditional update (``reminded_at IS NULL``...), in the same transaction as
the notices it creates, so two schedulers (there is only ever one, but a lease can change hands
mid-step) never remind a leader twice, and a crash after the claim leaves pending notices that the
next run sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from broadcaster.circulars.records import STEPS, CircularState, Delivery, Notice, NoticeState, Target
from broadcaster.circulars.store import event, insert_deliveries, insert_ignore, notice_row
from broadcaster.store import tables as t
from broadcaster.store.db import Database

C, D, N = t.circulars, t.circular_deliveries, t.circular_notices
_TAKEN = {"remind": D.c.reminded_at, "deputy": D.c.deputy_at, "officers": D.c.officers_at}
_DUE = {"remind": D.c.remind_due, "deputy": D.c.deputy_due, "officers": D.c.officers_due}
# After the n-th failed try a notice waits this long (then the last figure).
NOTICE_BACKOFF_S = (30.0, 120.0, 600.0, 1800.0)


def _stand_in_confirmed(c: sa.Connection, circular_id: str) -> set[str | None]:
    """Districts where a deputy confirmed: their leaders' chains stop too (the deputy acted)."""
    return set(
        c.execute(
            sa.select(D.c.district).where(D.c.circular_id == circular_id, D.c.role == "deputy", D.c.confirmed_at.is_not(None))
        ).scalars()
    )


async def due(db: Database, circular_id: str, at: datetime) -> dict[str, list[Delivery]]:
    """Per step, the leaders' deliveries whose step is due now and not taken, unconfirmed."""

    def work(c: sa.Connection) -> dict[str, list[Delivery]]:
        covered = _stand_in_confirmed(c, circular_id)
        out: dict[str, list[Delivery]] = {s: [] for s in STEPS}
        rows = c.execute(
            sa.select(D).where(
                D.c.circular_id == circular_id,
                D.c.role == "leader",
                D.c.confirmed_at.is_(None),
                sa.or_(*(sa.and_(_DUE[s] <= at, _TAKEN[s].is_(None)) for s in STEPS)),
            ).order_by(D.c.district, D.c.id)
        )
        for r in rows:
            d = Delivery.of(r)
            if d.district in covered:
                continue
            for s in STEPS:
                when = d.due(s)
                if when is not None and when <= at and d.taken(s) is None:
                    out[s].append(d)
        return out

    return await db.read(work)


async def take(
    db: Database,
    step: str,
    delivery_ids: Sequence[str],
    at: datetime,
    *,
    notices: Sequence[tuple[str, str, str]] = (),
    stand_ins: Sequence[Target] = (),
) -> list[str]:
    """Claim `step` for these deliveries; with it, record `notices` (delivery, purpose, channel)
    and the deputies' deliveries (`stand_ins`). Returns the deliveries this call claimed."""
    column = _TAKEN[step]

    def work(c: sa.Connection) -> list[str]:
        claimed: list[str] = []
        for did in delivery_ids:
            done = c.execute(D.update().where(D.c.id == did, column.is_(None), D.c.confirmed_at.is_(None)).values({column: at}))
            if done.rowcount == 1:
                claimed.append(did)
        if not claimed:
            return []
        meta = {
            r.id: r
            for r in c.execute(sa.select(D.c.id, D.c.circular_id, D.c.tenant).where(D.c.id.in_(claimed)))
        }
        rows = [notice_row(did, meta[did].circular_id, meta[did].tenant, purpose, ch, at) for did, purpose, ch in notices if did in meta]
        if rows:
            insert_ignore(c, N, rows)
        first = meta[claimed[0]]
        if stand_ins:
            insert_deliveries(c, first.circular_id, stand_ins, None, at)
        for did in claimed:
            event(c, first.tenant, first.circular_id, f"step_{step}", "system:scheduler", at, did)
        return claimed

    return await db.write(work)


async def expedite_officers(db: Database, delivery_id: str, at: datetime) -> None:
    """Nobody can reach this leader (no channel, every notice dead): the officers' step is due now."""
    await db.write(
        lambda c: c.execute(
            D.update()
            .where(
                D.c.id == delivery_id,
                D.c.role == "leader",
                D.c.officers_at.is_(None),
                sa.or_(D.c.officers_due.is_(None), D.c.officers_due > at),
            )
            .values(officers_due=at)
        )
    )


async def sendable(db: Database, circular_id: str, at: datetime) -> list[Notice]:
    """Notices to send now: never tried (or in doubt after a crash), or failed and due again."""
    q = (
        sa.select(N)
        .where(
            N.c.circular_id == circular_id,
            sa.or_(N.c.state == NoticeState.PENDING, sa.and_(N.c.state == NoticeState.FAILED, N.c.next_attempt <= at)),
        )
        .order_by(N.c.created, N.c.key)
    )
    return await db.read(lambda c: [Notice.of(r) for r in c.execute(q)])


async def notices_for(db: Database, delivery_ids: Sequence[str], purpose: str) -> list[Notice]:
    q = sa.select(N).where(N.c.delivery_id.in_(list(delivery_ids)), N.c.purpose == purpose, N.c.state.in_((NoticeState.PENDING, NoticeState.FAILED)))
    return await db.read(lambda c: [Notice.of(r) for r in c.execute(q.order_by(N.c.created, N.c.key))])


async def begin_notice(db: Database, key: str) -> int:
    """Count the try before sending (a crash after it leaves the notice pending: sent again)."""

    def work(c: sa.Connection) -> int:
        c.execute(N.update().where(N.c.key == key).values(attempts=N.c.attempts + 1))
        return int(c.execute(sa.select(N.c.attempts).where(N.c.key == key)).scalar_one())

    return await db.write(work)


async def finish_notice(
    db: Database,
    key: str,
    state: NoticeState,
    at: datetime,
    *,
    attempts: int,
    mode: str | None = None,
    provider_ref: str | None = None,
    error: str | None = None,
) -> None:
    values: dict[str, Any] = {"state": state, "mode": mode, "provider_ref": provider_ref, "error": error}
    if state == NoticeState.SENT:
        values["sent_at"] = at
        values["next_attempt"] = None
    elif state == NoticeState.FAILED:
        values["next_attempt"] = at + timedelta(seconds=NOTICE_BACKOFF_S[min(attempts, len(NOTICE_BACKOFF_S)) - 1])
    await db.write(lambda c: c.execute(N.update().where(N.c.key == key).values(**values)))


async def unreachable(db: Database, circular_id: str) -> list[str]:
    """Leaders' deliveries with no notice that went out or may still go out."""

    def work(c: sa.Connection) -> list[str]:
        alive = sa.select(N.c.delivery_id).where(N.c.circular_id == circular_id, N.c.state != NoticeState.DEAD, N.c.purpose == "notify")
        return list(
            c.execute(
                sa.select(D.c.id).where(
                    D.c.circular_id == circular_id, D.c.role == "leader", D.c.confirmed_at.is_(None), D.c.id.not_in(alive)
                )
            ).scalars()
        )

    return await db.read(work)


async def next_due(db: Database, circular_id: str) -> datetime | None:
    """When the circular next needs the scheduler: a step, a notice retry, or its release."""

    def work(c: sa.Connection) -> datetime | None:
        found: list[datetime] = []
        row = c.execute(sa.select(C.c.state, C.c.release_at, C.c.created).where(C.c.id == circular_id)).first()
        if row is None or (row.state == CircularState.CANCELLED and not _pending(c, circular_id)):
            return None
        if row.state == CircularState.SCHEDULED:
            release: datetime = row.release_at or row.created
            return release
        if row.state == CircularState.RELEASED:
            covered = _stand_in_confirmed(c, circular_id)
            for s in STEPS:
                q = sa.select(_DUE[s], D.c.district).where(
                    D.c.circular_id == circular_id,
                    D.c.role == "leader",
                    D.c.confirmed_at.is_(None),
                    _TAKEN[s].is_(None),
                    _DUE[s].is_not(None),
                )
                found.extend(when for when, district in c.execute(q) if district not in covered)
        retry = c.execute(
            sa.select(sa.func.min(N.c.next_attempt)).where(N.c.circular_id == circular_id, N.c.state == NoticeState.FAILED)
        ).scalar()
        if retry is not None:
            found.append(retry)
        pending = c.execute(
            sa.select(sa.func.min(N.c.created)).where(N.c.circular_id == circular_id, N.c.state == NoticeState.PENDING)
        ).scalar()
        if pending is not None:
            found.append(pending)
        return min(found) if found else None

    return await db.read(work)


async def open_circulars(db: Database, limit: int = 1000) -> list[tuple[str, str]]:
    """(tenant, id) of circulars with work left: to release, a step to take, a notice to send."""

    def work(c: sa.Connection) -> list[tuple[str, str]]:
        steps_left = sa.or_(*(sa.and_(_DUE[s].is_not(None), _TAKEN[s].is_(None)) for s in STEPS))
        busy = sa.select(D.c.circular_id).where(D.c.role == "leader", D.c.confirmed_at.is_(None), steps_left)
        noticing = sa.select(N.c.circular_id).where(N.c.state.in_((NoticeState.PENDING, NoticeState.FAILED)))
        q = (
            sa.select(C.c.tenant, C.c.id)
            .where(
                sa.or_(
                    C.c.state == CircularState.SCHEDULED,
                    sa.and_(C.c.state == CircularState.RELEASED, C.c.id.in_(busy)),
                    C.c.id.in_(noticing),
                )
            )
            .order_by(C.c.created)
            .limit(limit)
        )
        return [(r.tenant, r.id) for r in c.execute(q)]

    return await db.read(work)


def _pending(c: sa.Connection, circular_id: str) -> bool:
    return c.execute(sa.select(N.c.key).where(N.c.circular_id == circular_id, N.c.state.in_((NoticeState.PENDING, NoticeState.FAILED))).limit(1)).first() is not None
