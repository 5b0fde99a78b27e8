"""Residents' safety answers (安否確認): 無事 / 支援が必要 / 避難済み, with an optional note.

One answer per household and alert (docs/coverage.md): whichever member answers, the latest
answer stands, the same answer again changes nothing, and a different one replaces it (`changes`
counts how often). An answer also marks the household reached (medium ``safety``). The note is
the resident's own words and is sealed at rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from broadcaster import safety_links
from broadcaster.coverage.marks import household_key
from broadcaster.model import now
from broadcaster.store import tables as t
from broadcaster.store.audiences import address_hash, dialect_insert
from broadcaster.store.db import Database

ANSWERS = safety_links.ANSWERS
MAX_NOTE = 500


@dataclass(frozen=True, slots=True)
class Recorded:
    household: str
    outcome: str  # recorded | changed | unchanged


@dataclass(frozen=True, slots=True)
class Standing:
    answer: str
    note: str | None
    at: datetime


def _clean(note: str | None) -> str | None:
    text = "".join(ch for ch in (note or "") if ch in "\n" or ch.isprintable()).strip()
    return text[:MAX_NOTE] or None


async def person_of(db: Database, tenant: str, kind: str, address: str) -> tuple[str, str | None] | None:
    """(roster id, household) of the tenant's active person with this address on `kind`."""
    s, e = t.subscribers, t.subscriber_endpoints
    query = (
        sa.select(s.c.external_ref, s.c.household)
        .select_from(e.join(s, s.c.id == e.c.subscriber_id))
        .where(
            s.c.tenant == tenant,
            s.c.active.is_(True),
            e.c.channel == kind,
            e.c.address_hash == address_hash(kind, address),
        )
        .order_by(s.c.id)
    )

    def work(c: sa.Connection) -> tuple[str, str | None] | None:
        row = c.execute(query).first()
        return None if row is None or row[0] is None else (str(row[0]), row[1])

    return await db.read(work)


async def record(
    db: Database,
    tenant: str,
    alert_id: str,
    person: str,
    household: str | None,
    answer: str,
    note: str | None,
    *,
    via: str,
    at: datetime | None = None,
) -> Recorded:
    """Record `person`'s answer for their household; ValueError for an answer not in ANSWERS."""
    if answer not in ANSWERS:
        raise ValueError(f"unknown answer {answer!r}: one of {', '.join(ANSWERS)}")
    key = household_key(person, household)
    when = at or now()
    clean = _clean(note)
    a, m = t.safety_answers, t.reach_marks
    where = (a.c.tenant == tenant, a.c.alert_id == alert_id, a.c.household == key)

    def work(c: sa.Connection) -> Recorded:
        old = c.execute(sa.select(a.c.answer, a.c.note, a.c.changes).where(*where)).first()
        mark = {
            "tenant": tenant,
            "alert_id": alert_id,
            "household": key,
            "medium": "safety",
            "actor": f"resident:{person}"[:200],
            "at": when,
        }
        c.execute(dialect_insert(c, m).values(**mark).on_conflict_do_nothing())
        if old is None:
            c.execute(a.insert().values(
                tenant=tenant, alert_id=alert_id, household=key, answer=answer, note=clean, person=person[:200],
                via=via[:32], first_at=when, at=when, changes=0,
            ))  # fmt: skip
            return Recorded(key, "recorded")
        if old.answer == answer and (old.note or None) == clean:
            return Recorded(key, "unchanged")
        c.execute(
            a.update()
            .where(*where)
            .values(
                answer=answer, note=clean, person=person[:200], via=via[:32], at=when, changes=old.changes + 1
            )
        )
        return Recorded(key, "changed")

    return await db.write(work)


async def standing(db: Database, tenant: str, alert_id: str, household: str) -> Standing | None:
    a = t.safety_answers
    query = sa.select(a.c.answer, a.c.note, a.c.at).where(
        a.c.tenant == tenant, a.c.alert_id == alert_id, a.c.household == household
    )

    def work(c: sa.Connection) -> Standing | None:
        row = c.execute(query).first()
        return None if row is None else Standing(row.answer, row.note, row.at)

    return await db.read(work)
