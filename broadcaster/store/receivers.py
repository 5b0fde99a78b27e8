"""J-Alert receiver health, as the bridges report it (adapters/ingest/jalert/bridge/health.py).

Each report replaces the last one of its bridge key; the receivers it names are upserted. Whether
a receiver is silent is decided when read (its own `expect_within_h`), so the answer moves with
the clock even when no report comes: and a bridge that stops reporting is itself shown silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from broadcaster.model import now
from broadcaster.store import tables as t
from broadcaster.store.db import Database


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


@dataclass(frozen=True, slots=True)
class ReceiverHealth:
    key_id: str
    name: str
    tenant: str | None
    last_heard: datetime | None
    last_via: str | None
    last_test: datetime | None
    heard: int
    quarantined: int
    refused: int
    expect_within_h: float
    reported_at: datetime  # when its bridge last reported
    bridge_silent: bool

    @property
    def silent(self) -> bool:
        """Not heard within its expected interval (never heard counts as silent)."""
        if self.last_heard is None:
            return True
        return now() - self.last_heard > timedelta(hours=self.expect_within_h)

    @property
    def age_s(self) -> float | None:
        return None if self.last_heard is None else (now() - self.last_heard).total_seconds()


def _upsert(c: sa.Connection, table: sa.Table, keys: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    where = sa.and_(*(table.c[k] == v for k, v in keys.items()))
    if c.execute(table.update().where(where).values(**values)).rowcount == 0:
        c.execute(table.insert().values(**keys, **values))


async def record_report(db: Database, key_id: str, tenant: str | None, report: Mapping[str, Any]) -> int:
    """Store one bridge's report; the number of receivers it named."""
    at = now()
    spool = report.get("spool") if isinstance(report.get("spool"), Mapping) else {}
    assert isinstance(spool, Mapping)
    receivers = [r for r in report.get("receivers", []) if isinstance(r, Mapping) and isinstance(r.get("name"), str)]

    def work(c: sa.Connection) -> int:
        _upsert(
            c,
            t.jalert_bridges,
            {"key_id": key_id},
            {
                "tenant": tenant,
                "reported_at": at,
                "bridge_at": _time(report.get("at")),
                "started": _time(report.get("started")),
                "queue": _count(spool.get("queue")),
                "oldest_waiting": _time(spool.get("oldest_waiting")),
                "mail_refused": _count(report.get("mail_refused")),
            },
        )
        for r in receivers[:50]:
            hours = r.get("expect_within_h")
            _upsert(
                c,
                t.jalert_receivers,
                {"key_id": key_id, "name": str(r["name"])[:64]},
                {
                    "tenant": tenant,
                    "last_heard": _time(r.get("last_heard")),
                    "last_via": str(r.get("last_via") or "")[:16] or None,
                    "last_test": _time(r.get("last_test")),
                    "heard": _count(r.get("heard")),
                    "quarantined": _count(r.get("quarantined")),
                    "refused": _count(r.get("refused")),
                    "expect_within_h": float(hours) if isinstance(hours, int | float) and hours > 0 else 2400.0,
                    "reported_at": at,
                },
            )
        return len(receivers[:50])

    return await db.write(work)


async def receivers(db: Database, *, tenant: str | None = None, bridge_silent_after_s: float = 300.0) -> list[ReceiverHealth]:
    """Every receiver a bridge reported (the tenant's, or a shared bridge's, with `tenant`)."""
    r, b = t.jalert_receivers, t.jalert_bridges
    query = (
        sa.select(r, b.c.reported_at.label("bridge_reported"))
        .select_from(r.join(b, b.c.key_id == r.c.key_id))
        .order_by(r.c.key_id, r.c.name)
    )
    if tenant is not None:
        query = query.where(sa.or_(r.c.tenant == tenant, r.c.tenant.is_(None)))
    cutoff = now() - timedelta(seconds=bridge_silent_after_s)

    def work(c: sa.Connection) -> list[ReceiverHealth]:
        out = []
        for row in c.execute(query):
            m = row._mapping
            out.append(
                ReceiverHealth(
                    key_id=m["key_id"],
                    name=m["name"],
                    tenant=m["tenant"],
                    last_heard=m["last_heard"],
                    last_via=m["last_via"],
                    last_test=m["last_test"],
                    heard=m["heard"],
                    quarantined=m["quarantined"],
                    refused=m["refused"],
                    expect_within_h=m["expect_within_h"],
                    reported_at=m["bridge_reported"],
                    bridge_silent=m["bridge_reported"] < cutoff,
                )
            )
        return out

    return await db.read(work)
