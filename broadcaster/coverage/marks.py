"""Reach that no send result says, marked per household: a LINE reply or quick-reply tap, an app
opened, a leader's confirmation, an officer's or leader's mark, a safety answer (docs/coverage.md).

A mark is kept once per (alert, household, medium): the first one tells when the household was
reached that way; marking again changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa

from broadcaster.coverage.config import CoverageSettings
from broadcaster.coverage.counts import compute
from broadcaster.model import now
from broadcaster.store import tables as t
from broadcaster.store.audiences import dialect_insert
from broadcaster.store.db import Database

# The media a mark may name, beside the channels whose outcomes say reached.
MARK_MEDIA = ("line_reply", "app_open", "circular", "leader", "officer", "safety")


def household_key(external_id: str, household: str | None) -> str:
    """The key a household is counted under (broadcaster/store/audiences.py, Person.household_key)."""
    return household or f"~{external_id}"


async def household_of(db: Database, tenant: str, external_id: str) -> str | None:
    """The household key of one of the tenant's active people, None when there is no such person."""
    s = t.subscribers
    query = sa.select(s.c.household).where(
        s.c.tenant == tenant, s.c.external_ref == external_id, s.c.active.is_(True)
    )

    def work(c: sa.Connection) -> str | None:
        row = c.execute(query).first()
        return None if row is None else household_key(external_id, row.household)

    return await db.read(work)


async def mark(
    db: Database,
    tenant: str,
    alert_id: str,
    household: str,
    medium: str,
    *,
    actor: str,
    at: datetime | None = None,
) -> bool:
    """Record that `household` was reached on `medium`; False when it was already."""
    if medium not in MARK_MEDIA:
        raise ValueError(f"unknown medium {medium!r}: one of {', '.join(MARK_MEDIA)}")
    m = t.reach_marks
    row = {
        "tenant": tenant,
        "alert_id": alert_id,
        "household": household,
        "medium": medium,
        "actor": actor[:200],
        "at": at or now(),
    }

    def work(c: sa.Connection) -> bool:
        stmt = dialect_insert(c, m).values(**row).on_conflict_do_nothing()
        return bool(c.execute(stmt).rowcount)

    return await db.write(work)


async def mark_unreached(
    db: Database,
    tenant: str,
    alert_id: str,
    district: str,
    districts: Mapping[str, str],
    settings: CoverageSettings,
    medium: str,
    *,
    actor: str,
    at: datetime | None = None,
) -> list[str]:
    """Mark every household of `district` not reached yet on any medium; their keys.

    A leader's confirmation of an alert's circular reaches the district's households the
    circular goes round (docs/coverage.md); a household another medium already reached keeps
    that medium alone, so the table says what the circular added.
    """
    cov = await compute(db, tenant, alert_id, districts, settings, at=at)
    row = next((r for r in cov.districts if r.district == district), None) if cov is not None else None
    if row is None:
        return []
    return [h.key for h in row.unreached if await mark(db, tenant, alert_id, h.key, medium, actor=actor, at=at)]
