"""The leader's checklist of the people on the town's support list (避難行動要支援者), per district.

Visibility follows the law's two regimes (docs/support.md): an entry whose person consented to
sharing in normal times is visible to their district's leader and deputy always; the others only
while an alert of the kinds the town configures (`coverage.support_alert_kinds`, Actual only) is
in force, and the page says which alert lets it see them. Marks (伝達済 / 避難済 / 不在 / 支援要請)
belong to that alert; outside an event nothing can be marked. Nothing here reads another
district's or another tenant's entries: every query names both.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from broadcaster.coverage.config import CoverageSettings
from broadcaster.model import now
from broadcaster.store import tables as t
from broadcaster.store.audiences import dialect_insert
from broadcaster.store.db import Database

MARKS: dict[str, str] = {"told": "伝達済", "evacuated": "避難済", "absent": "不在", "help": "支援要請"}
COLUMNS = ("id", "district", "name", "address", "needs", "contact", "consent")
_YES = {"yes", "true", "1", "はい", "同意", "有"}
_NO = {"", "no", "false", "0", "いいえ", "不同意", "無"}


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    district: str
    name: str
    address: str | None = None
    needs: str | None = None
    contact: str | None = None
    consent: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """The alert in force that opens the entries without consent."""

    alert_id: str
    headline: str | None
    kind: str
    received: datetime


@dataclass(frozen=True, slots=True)
class Row:
    entry: Entry
    mark: str | None
    note: str | None
    marked_at: datetime | None


def read_csv(text: str, districts: Mapping[str, str]) -> tuple[list[Entry], list[str]]:
    """Entries of a CSV (columns COLUMNS; districts by id or name) and the problems, by line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("id", "district", "name") if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        return [], [
            f"line 1: columns are {', '.join(COLUMNS)} (missing: {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'})"
        ]
    reader.fieldnames = header
    out: list[Entry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for cells in reader:
        line = reader.line_num
        get = {k: (v or "").strip() for k, v in cells.items() if k is not None}
        if not any(get.values()):
            continue
        pid, district, name = get.get("id", ""), districts.get(get.get("district", "")), get.get("name", "")
        consent = get.get("consent", "").lower()
        if not pid or len(pid) > 200 or pid in seen:
            problems.append(f"line {line}: id {pid!r} is empty, too long or repeated")
        if district is None:
            problems.append(f"line {line}: no district {get.get('district', '')!r} in this municipality")
        if not name:
            problems.append(f"line {line}: name is empty")
        if consent not in _YES | _NO:
            problems.append(f"line {line}: consent {consent!r}: yes or no")
        seen.add(pid)
        if district is not None and pid and name and consent in _YES | _NO:
            out.append(Entry(pid, district, name, get.get("address") or None, get.get("needs") or None,
                             get.get("contact") or None, consent in _YES))  # fmt: skip
    return out, problems


async def replace_list(
    db: Database, tenant: str, entries: Sequence[Entry], at: datetime | None = None
) -> int:
    """The tenant's list becomes `entries` (the town's register is the source; an import replaces it)."""
    p = t.support_people
    when = at or now()
    rows = [{"tenant": tenant, "id": e.id, "district": e.district, "name": e.name, "address": e.address,
             "needs": e.needs, "contact": e.contact, "consent": e.consent, "updated": when} for e in entries]  # fmt: skip

    def work(c: sa.Connection) -> int:
        c.execute(p.delete().where(p.c.tenant == tenant))
        if rows:
            c.execute(p.insert(), rows)
        return len(rows)

    return await db.write(work)


async def event_in_force(
    db: Database, tenant: str, settings: CoverageSettings, at: datetime | None = None
) -> Event | None:
    """The latest Actual alert of the configured kinds, received within `support_event_hours`
    and not cancelled since; None in normal times."""
    a = t.alerts
    when = at or now()
    since = when - timedelta(hours=settings.support_event_hours)
    query = (
        sa.select(a.c.identifier, a.c.headline, a.c.kind, a.c.received, a.c.event_key)
        .where(a.c.tenant == tenant, a.c.status == "Actual", a.c.kind.in_(settings.support_alert_kinds),
               a.c.msg_type != "Cancel", a.c.received >= since, a.c.received <= when)
        .order_by(a.c.received.desc())
    )  # fmt: skip

    def work(c: sa.Connection) -> Event | None:
        for r in c.execute(query):
            cancelled = c.execute(
                sa.select(a.c.identifier).where(a.c.tenant == tenant, a.c.event_key == r.event_key,
                                                a.c.msg_type == "Cancel", a.c.received >= r.received)
            ).first()  # fmt: skip
            if cancelled is None:
                return Event(r.identifier, r.headline, r.kind, r.received)
        return None

    return await db.read(work)


async def checklist(db: Database, tenant: str, district: str, event: Event | None) -> list[Row]:
    """The district's entries a leader may see now, with their marks for the event."""
    p, m = t.support_people, t.support_marks
    query = sa.select(p).where(p.c.tenant == tenant, p.c.district == district).order_by(p.c.id)
    if event is None:
        query = query.where(p.c.consent.is_(True))

    def work(c: sa.Connection) -> list[Row]:
        marks = {}
        if event is not None:
            marks = {
                r.person: r
                for r in c.execute(
                    sa.select(m).where(
                        m.c.tenant == tenant, m.c.alert_id == event.alert_id, m.c.district == district
                    )
                )
            }
        out = []
        for r in c.execute(query):
            e = Entry(r.id, r.district, r.name, r.address, r.needs, r.contact, bool(r.consent))
            mk = marks.get(r.id)
            out.append(Row(e, mk.mark if mk else None, mk.note if mk else None, mk.at if mk else None))
        return out

    return await db.read(work)


async def mark(
    db: Database,
    tenant: str,
    event: Event,
    district: str,
    person: str,
    value: str,
    note: str | None,
    *,
    actor: str,
    at: datetime | None = None,
) -> bool:
    """Mark one person of `district` for the event; False when no such person is in the district."""
    if value not in MARKS:
        raise ValueError(f"unknown mark {value!r}: one of {', '.join(MARKS)}")
    p, m = t.support_people, t.support_marks
    clean = (note or "").strip()[:500] or None
    when = at or now()

    def work(c: sa.Connection) -> bool:
        if (
            c.execute(
                sa.select(p.c.id).where(p.c.tenant == tenant, p.c.district == district, p.c.id == person)
            ).first()
            is None
        ):
            return False
        row = {"tenant": tenant, "alert_id": event.alert_id, "person": person, "district": district, "mark": value,
               "note": clean, "actor": actor[:200], "at": when}  # fmt: skip
        stmt = dialect_insert(c, m).values(**row)
        c.execute(stmt.on_conflict_do_update(index_elements=["tenant", "alert_id", "person"],
                                             set_={"mark": value, "note": clean, "actor": actor[:200], "at": when}))  # fmt: skip
        return True

    return await db.write(work)


async def progress(db: Database, tenant: str, event: Event) -> dict[str, tuple[int, Counter[str]]]:
    """Per district: how many entries, and how many of each mark for the event (counts only)."""
    p, m = t.support_people, t.support_marks

    def work(c: sa.Connection) -> dict[str, tuple[int, Counter[str]]]:
        out: dict[str, tuple[int, Counter[str]]] = {}
        for district, n in c.execute(
            sa.select(p.c.district, sa.func.count()).where(p.c.tenant == tenant).group_by(p.c.district)
        ):
            out[str(district)] = (int(n), Counter())
        for district, value, n in c.execute(
            sa.select(m.c.district, m.c.mark, sa.func.count()).where(m.c.tenant == tenant, m.c.alert_id == event.alert_id)
            .group_by(m.c.district, m.c.mark)
        ):  # fmt: skip
            out.setdefault(str(district), (0, Counter()))[1][str(value)] = int(n)
        return out

    return await db.read(work)
