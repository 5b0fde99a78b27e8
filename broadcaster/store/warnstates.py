"""A town's weather-warning state, settled inside the transaction that records an alert.

The comparison is broadcaster/model/warnstate.py's `judge`; this module runs it against the
state the ledger keeps (`warning_states`) and writes what changed, so that two formats of one
change handled at the same moment cannot both be news (docs/r06.md). On SQLite the writer thread
runs one transaction at a time; on PostgreSQL a transaction lock per tenant serialises them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from broadcaster.model.warnstate import Claim, Held, Level, judge
from broadcaster.store import tables as t


@dataclass(frozen=True, slots=True)
class Settled:
    news: tuple[Claim, ...]
    # What the town already held, for the claims that brought nothing new: the officer's record
    # of why the alert went nowhere.
    same: tuple[Held, ...]

    @property
    def reason(self) -> str:
        told = sorted({f"{h.area} {h.hazard}: {h.name} ({h.told_by})" for h in self.same})
        return "already told: " + "; ".join(told)


def _lock(c: sa.Connection, tenant: str) -> None:
    if c.dialect.name == "postgresql":
        digest = hashlib.sha256(f"warnstate|{tenant}".encode()).digest()
        c.execute(
            sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(digest[:8], "big", signed=True)}
        )


def held(c: sa.Connection, tenant: str, areas: Sequence[str]) -> dict[tuple[str, str], Held]:
    w = t.warning_states
    rows = c.execute(sa.select(w).where(w.c.tenant == tenant, w.c.area.in_(sorted(set(areas)))))
    return {
        (r.area, r.hazard): Held(r.area, r.hazard, Level(r.low, r.high, r.nominal), r.name, r.told_by)
        for r in rows
    }


def settle(c: sa.Connection, tenant: str, claims: Sequence[Claim], identifier: str, at: datetime) -> Settled:
    """Judge each claim against the town's state and keep what is news or more precise."""
    _lock(c, tenant)
    state = held(c, tenant, [cl.area for cl in claims])
    news: list[Claim] = []
    same: list[Held] = []
    write: list[Claim] = []
    for claim in claims:
        verdict = judge(claim, state)
        if verdict == "news":
            news.append(claim)
            write.append(claim)
        else:
            if verdict == "refines":
                write.append(claim)
            same.extend(state[(claim.area, h)] for h in claim.hazards if (claim.area, h) in state)
    w = t.warning_states
    for claim in write:
        for hazard in claim.hazards:
            c.execute(w.delete().where(w.c.tenant == tenant, w.c.area == claim.area, w.c.hazard == hazard))
            c.execute(
                w.insert().values(
                    tenant=tenant,
                    area=claim.area,
                    hazard=hazard,
                    low=claim.level.low,
                    high=claim.level.high,
                    nominal=claim.level.nominal,
                    name=claim.name[:64],
                    told_by=identifier,
                    at=at,
                )
            )
    return Settled(tuple(news), tuple(same))


def tellers(c: sa.Connection, tenant: str, keys: Sequence[tuple[str, str]]) -> list[str]:
    """The alerts that told the town what is in force for these (area, hazard), oldest first."""
    state = held(c, tenant, [area for area, _ in keys])
    w = t.warning_states
    told = {state[k].told_by for k in keys if k in state and state[k].level.high > 0}
    if not told:
        return []
    rows = c.execute(
        sa.select(w.c.told_by, sa.func.min(w.c.at).label("at"))
        .where(w.c.tenant == tenant, w.c.told_by.in_(sorted(told)))
        .group_by(w.c.told_by)
        .order_by("at", w.c.told_by)
    )
    return [r.told_by for r in rows]


def forget(c: sa.Connection, tenant: str, told_by: Sequence[str]) -> int:
    """Drop what cancelled alerts told the town: the corrected telegram that follows a 取消 must
    be news again, not the same as what was withdrawn."""
    if not told_by:
        return 0
    w = t.warning_states
    return c.execute(w.delete().where(w.c.tenant == tenant, w.c.told_by.in_(sorted(set(told_by))))).rowcount
