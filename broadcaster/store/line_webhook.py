"""The LINE webhook's memory: events seen (replay refusal, crash recovery) and leaders' link codes.

**Seen events.** LINE's signature has no timestamp or nonce: a captured request verifies forever.
What makes a repeat harmless is the event's ``webhookEventId``: an event is claimed once per
tenant, in the same transaction that keeps it for processing, before the request is answered.
The event's body is deleted when it has been processed (it names a person); the id is kept for
`retention`, and events older than that are refused by their own timestamp
(broadcaster/web/line_hook.py), so a forgotten id cannot come back.

An event claimed by a process that then died stays ``received``; any process takes it over after
`lease` (`take_stale`), at most `max_attempts` times.

**Link codes.** An officer issues a code for one leader or deputy; the leader sends it from LINE
and their LINE user id becomes their LINE address. A code is eight digits (a 76-year-old types it
on a phone keypad), works once, expires, and only its keyed hash is stored. Guessing is bounded
by failed attempts counted here, per LINE user and per town, shared by every web process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from broadcaster.store import tables as t
from broadcaster.store.db import Database

CODE_DIGITS = 8
LEADER_KINDS = ("leader", "deputy")


def _insert_ignore(dialect: str, table: sa.Table) -> Callable[[], Any]:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return lambda: pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return lambda: sqlite_insert(table).on_conflict_do_nothing()


@dataclass(frozen=True, slots=True)
class Pending:
    tenant: str
    event_id: str
    payload: str
    received: datetime


class SeenEvents:
    def __init__(
        self,
        db: Database,
        *,
        retention: timedelta = timedelta(days=7),
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 3,
    ) -> None:
        self.db = db
        self.retention = retention
        self.lease = lease
        self.max_attempts = max_attempts
        self._insert = _insert_ignore(db.dialect, t.line_webhook_events)

    async def claim(self, tenant: str, events: Sequence[tuple[str, str, str]], at: datetime) -> set[str]:
        """Keep the (id, type, payload) events not seen before; returns their ids."""
        e = t.line_webhook_events

        def work(c: sa.Connection) -> set[str]:
            c.execute(sa.delete(e).where(e.c.received < at - self.retention))
            new: set[str] = set()
            for event_id, event_type, payload in events:
                row = {
                    "tenant": tenant,
                    "event_id": event_id,
                    "event_type": event_type[:32],
                    "received": at,
                    "state": "received",
                    "attempts": 1,
                    "claimed": at,
                    "payload": payload,
                }
                if c.execute(self._insert(), [row]).rowcount == 1:
                    new.add(event_id)
            return new

        return await self.db.write(work)

    async def finish(self, tenant: str, event_id: str, outcome: str, *, failed: bool = False) -> None:
        e = t.line_webhook_events
        await self.db.write(
            lambda c: c.execute(
                e.update()
                .where(e.c.tenant == tenant, e.c.event_id == event_id)
                .values(state="failed" if failed else "done", payload=None, outcome=outcome[:64])
            )
        )

    async def take_stale(self, at: datetime, limit: int = 50) -> list[Pending]:
        """Events claimed longer than `lease` ago and still not processed, now claimed by the
        caller; those out of attempts are marked failed (and their bodies deleted) instead."""
        e = t.line_webhook_events

        def work(c: sa.Connection) -> list[Pending]:
            rows = c.execute(
                sa.select(e.c.tenant, e.c.event_id, e.c.payload, e.c.attempts, e.c.claimed, e.c.received)
                .where(e.c.state == "received", e.c.claimed < at - self.lease)
                .order_by(e.c.received)
                .limit(limit)
            ).all()
            taken: list[Pending] = []
            for r in rows:
                mine = e.c.tenant == r.tenant, e.c.event_id == r.event_id, e.c.claimed == r.claimed
                if r.attempts >= self.max_attempts or r.payload is None:
                    c.execute(e.update().where(*mine).values(state="failed", payload=None, outcome="gave_up"))
                    continue
                # Conditional on the claim we read: of two processes sweeping at once, one wins.
                won = c.execute(e.update().where(*mine).values(claimed=at, attempts=r.attempts + 1)).rowcount
                if won == 1:
                    taken.append(Pending(r.tenant, r.event_id, r.payload, r.received))
            return taken

        return await self.db.write(work)

    async def state(self, tenant: str, event_id: str) -> tuple[str, str | None, bool] | None:
        """(state, outcome, body still kept) of an event, for status and tests."""
        e = t.line_webhook_events
        row = await self.db.read(
            lambda c: c.execute(
                sa.select(e.c.state, e.c.outcome, e.c.payload).where(e.c.tenant == tenant, e.c.event_id == event_id)
            ).first()
        )
        return None if row is None else (row.state, row.outcome, row.payload is not None)


# -- link codes -----------------------------------------------------------------------------------

Outcome = Literal["ok", "unknown", "expired", "used", "limited"]


@dataclass(frozen=True, slots=True)
class Issued:
    code: str  # the digits; shown once, never stored
    expires: datetime
    external_id: str
    kind: str

    @property
    def display(self) -> str:
        """As printed for the leader: two groups of four, easier to read out on the phone."""
        return f"{self.code[:4]} {self.code[4:]}"


@dataclass(frozen=True, slots=True)
class Redeemed:
    outcome: Outcome
    external_id: str | None = None
    kind: str | None = None
    again: bool = False  # the same user redeemed this code before (a re-processed event)


def code_hash(key: bytes, tenant: str, code: str) -> str:
    return hmac.new(key, f"{tenant}\x1f{code}".encode(), hashlib.sha256).hexdigest()


def normalize_code(text: str) -> str | None:
    """The eight digits of a typed code ("1234 5678", "1234-5678", full-width digits after
    NFKC), or None when the text is not a code."""
    digits = "".join(ch for ch in text if ch not in " -‐‑–—ー")
    return digits if len(digits) == CODE_DIGITS and digits.isascii() and digits.isdigit() else None


class LinkCodes:
    def __init__(
        self,
        db: Database,
        *,
        window: timedelta = timedelta(minutes=15),
        per_user: int = 5,
        per_tenant: int = 30,
    ) -> None:
        self.db = db
        self.window = window
        self.per_user = per_user
        self.per_tenant = per_tenant

    async def issue(
        self, tenant: str, external_id: str, *, key: bytes, by: str, ttl: timedelta, at: datetime
    ) -> Issued | None:
        """A new code for an active leader or deputy (their earlier unused codes stop working);
        None when the tenant has no such person."""
        s, lc = t.subscribers, t.line_link_codes

        def work(c: sa.Connection) -> Issued | None:
            person = c.execute(
                sa.select(s.c.id, s.c.kind).where(
                    s.c.tenant == tenant,
                    s.c.external_ref == external_id,
                    s.c.kind.in_(LEADER_KINDS),
                    s.c.left_at.is_(None),
                    s.c.active.is_(True),
                )
            ).first()
            if person is None:
                return None
            c.execute(lc.delete().where(lc.c.subscriber_id == person.id, lc.c.used.is_(None)))
            c.execute(lc.delete().where(lc.c.tenant == tenant, lc.c.expires < at - timedelta(days=1)))
            while True:
                code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
                h = code_hash(key, tenant, code)
                taken = c.execute(sa.select(lc.c.code_hash).where(lc.c.tenant == tenant, lc.c.code_hash == h)).first()
                if taken is None:
                    break
            c.execute(
                lc.insert().values(
                    tenant=tenant,
                    code_hash=h,
                    subscriber_id=person.id,
                    created=at,
                    created_by=by[:200],
                    expires=at + ttl,
                    used=None,
                    used_by=None,
                )
            )
            return Issued(code, at + ttl, external_id, person.kind)

        return await self.db.write(work)

    async def redeem(self, tenant: str, code: str, *, key: bytes, who: str, at: datetime) -> Redeemed:
        """Use a code for the LINE user `who` (its hash_id); every attempt counts against the
        limits, and past them no code is even looked at."""
        s, lc, la = t.subscribers, t.line_link_codes, t.line_link_attempts

        def failures(c: sa.Connection, *conds: sa.ColumnElement[bool]) -> int:
            since = at - self.window
            query = sa.select(sa.func.count()).where(la.c.tenant == tenant, la.c.at >= since, la.c.ok.is_(False), *conds)
            return int(c.execute(query).scalar() or 0)

        def work(c: sa.Connection) -> Redeemed:
            c.execute(la.delete().where(la.c.at < at - timedelta(days=1)))
            if failures(c, la.c.who == who) >= self.per_user or failures(c) >= self.per_tenant:
                return Redeemed("limited")
            row = c.execute(
                sa.select(lc.c.subscriber_id, lc.c.expires, lc.c.used, lc.c.used_by, s.c.external_ref, s.c.kind)
                .select_from(lc.join(s, s.c.id == lc.c.subscriber_id))
                .where(
                    lc.c.tenant == tenant,
                    lc.c.code_hash == code_hash(key, tenant, code),
                    s.c.left_at.is_(None),
                    s.c.kind.in_(LEADER_KINDS),
                )
            ).first()
            result: Redeemed
            if row is None:
                result = Redeemed("unknown")
            elif row.used is not None:
                again = row.used_by == who
                result = Redeemed("ok", row.external_ref, row.kind, again=True) if again else Redeemed("used")
            elif row.expires <= at:
                result = Redeemed("expired")
            else:
                done = c.execute(
                    lc.update()
                    .where(lc.c.tenant == tenant, lc.c.code_hash == code_hash(key, tenant, code), lc.c.used.is_(None))
                    .values(used=at, used_by=who)
                ).rowcount
                result = Redeemed("ok", row.external_ref, row.kind) if done == 1 else Redeemed("used")
            c.execute(la.insert().values(tenant=tenant, who=who, at=at, ok=result.outcome == "ok"))
            return result

        return await self.db.write(work)
