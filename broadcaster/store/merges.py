"""Claiming a change for an alert, inside the transaction that records the alert.

The matching rule is broadcaster/model/change.py's `choose`; this module runs it against what
the ledger knows and records the outcome, so that two reports of one change arriving at the same
moment (a receiver's mail and its contact output, handled by two workers) cannot both be first.
On SQLite the writer thread already runs one transaction at a time; on PostgreSQL a transaction
lock per (tenant, kind) serialises the claims of one kind in one town, and nothing else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from broadcaster.model.change import Change, Known, choose
from broadcaster.store import tables as t


@dataclass(frozen=True, slots=True)
class Claim:
    change_id: str
    merged: bool  # False: this alert is the change's first report


def _lock(c: sa.Connection, change: Change) -> None:
    if c.dialect.name == "postgresql":
        digest = hashlib.sha256(f"merge|{change.tenant}|{change.kind}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        c.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def known(c: sa.Connection, change: Change) -> list[Known]:
    m = t.merge_changes
    rows = c.execute(
        sa.select(m).where(
            m.c.tenant == change.tenant,
            m.c.kind == change.kind,
            m.c.status == change.status.value,
            m.c.at >= change.at - change.window,
            m.c.at <= change.at + change.window,
        )
    )
    return [Known(r.change_id, r.event_key, r.qualifier, r.at, r.identified) for r in rows]


def claim(c: sa.Connection, change: Change, *, relay: str | None, origin: str) -> Claim:
    """Record `change` as a report of a known change, or as a change of its own."""
    _lock(c, change)
    found = choose(change, known(c, change))
    m = t.merge_changes
    if found is None:
        c.execute(
            m.insert().values(
                tenant=change.tenant,
                change_id=change.identifier,
                kind=change.kind,
                status=change.status.value,
                qualifier=change.qualifier,
                at=change.at,
                event_key=change.event_key,
                identified=not change.relay,
            )
        )
        result = Claim(change.identifier, merged=False)
    else:
        update: dict[str, object] = {}
        if found.qualifier is None and change.qualifier is not None:
            update["qualifier"] = change.qualifier
        if not change.relay:
            update["identified"] = True
        if update:
            c.execute(
                m.update().where(m.c.tenant == change.tenant, m.c.change_id == found.change_id).values(**update)
            )
        result = Claim(found.change_id, merged=True)
    c.execute(
        t.merge_members.insert().values(
            tenant=change.tenant,
            identifier=change.identifier,
            change_id=result.change_id,
            event_key=change.event_key,
            relay=relay,
            origin=origin,
            at=change.at,
        )
    )
    return result


def continued_events(c: sa.Connection, tenant: str, event_keys: Iterable[str]) -> dict[str, str]:
    """For event keys of merged reports, the event key of the change's first report."""
    keys = sorted(set(event_keys))
    if not keys:
        return {}
    mm, mc = t.merge_members, t.merge_changes
    rows = c.execute(
        sa.select(mm.c.event_key, mc.c.event_key.label("first"))
        .select_from(mm.join(mc, sa.and_(mc.c.tenant == mm.c.tenant, mc.c.change_id == mm.c.change_id)))
        .where(mm.c.tenant == tenant, mm.c.event_key.in_(keys), mc.c.event_key != mm.c.event_key)
    )
    return {r.event_key: r.first for r in rows}


def merged_into(c: sa.Connection, tenant: str, identifier: str) -> str | None:
    """The first report of the change this alert was merged into (None: not merged)."""
    mm = t.merge_members
    change_id = c.execute(
        sa.select(mm.c.change_id).where(mm.c.tenant == tenant, mm.c.identifier == identifier)
    ).scalar()
    return None if change_id is None or change_id == identifier else str(change_id)
