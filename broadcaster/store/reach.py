"""What each send did for each resident (recipient_outcomes), where the provider says: written by
the channel worker, read by `broadcaster status`, the console and coverage counts.

One row per (dispatch, address): a retry of the dispatch rewrites it, so the row holds the outcome
of the attempt that ended the dispatch. Addresses are kept as the keyed hash the audience tables
use (broadcaster/store/audiences.py), never in clear.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from broadcaster.channels import RecipientOutcome
from broadcaster.model import Dispatch
from broadcaster.preference import endpoint_channel
from broadcaster.store import tables as t
from broadcaster.store.audiences import address_hash
from broadcaster.store.db import Database


@dataclass(frozen=True, slots=True)
class Reach:
    channel: str
    outcome: str
    reached: bool
    people: int
    fallback_to: str | None


async def record(
    db: Database,
    d: Dispatch,
    outcomes: Sequence[RecipientOutcome],
    fallback: Mapping[str, str],
    at: datetime,
) -> None:
    """Record each recipient's outcome; `fallback` maps address hashes to the channel tried next."""
    if not outcomes:
        return
    kind = endpoint_channel(d.channel)
    rows = [
        {
            "tenant": d.tenant,
            "alert_id": d.alert_id,
            "dispatch_key": d.key,
            "channel": d.channel,
            "audience": d.audience,
            "address_hash": (h := address_hash(kind, o.recipient)),
            "outcome": o.outcome,
            "reached": o.reached,
            "detail": o.detail[:300] or None,
            "attempts": o.attempts,
            "fallback_to": fallback.get(h),
            "at": at,
        }
        for o in outcomes
    ]
    r = t.recipient_outcomes

    def work(c: sa.Connection) -> None:
        c.execute(
            r.delete().where(
                r.c.tenant == d.tenant, r.c.dispatch_key == d.key, r.c.address_hash.in_([x["address_hash"] for x in rows])
            )
        )
        c.execute(r.insert(), rows)

    await db.write(work)


async def of_alert(db: Database, tenant: str, alert_id: str) -> list[Reach]:
    """Per channel and outcome, how many people, for one alert (its fallbacks included)."""
    r = t.recipient_outcomes
    query = (
        sa.select(r.c.channel, r.c.outcome, r.c.reached, r.c.fallback_to, sa.func.count())
        .where(r.c.tenant == tenant, r.c.alert_id == alert_id)
        .group_by(r.c.channel, r.c.outcome, r.c.reached, r.c.fallback_to)
        .order_by(r.c.channel, r.c.outcome)
    )
    return await db.read(
        lambda c: [Reach(row[0], row[1], bool(row[2]), int(row[4]), row[3]) for row in c.execute(query)]
    )


async def summary(db: Database, tenant: str | None = None) -> dict[tuple[str, str], dict[str, int]]:
    """For `broadcaster status`: per (tenant, alert), how many people had each "channel outcome"."""
    r = t.recipient_outcomes
    query = sa.select(r.c.tenant, r.c.alert_id, r.c.channel, r.c.outcome, sa.func.count()).group_by(
        r.c.tenant, r.c.alert_id, r.c.channel, r.c.outcome
    )
    if tenant is not None:
        query = query.where(r.c.tenant == tenant)

    def work(c: sa.Connection) -> dict[tuple[str, str], dict[str, int]]:
        out: dict[tuple[str, str], dict[str, int]] = {}
        for row in c.execute(query):
            out.setdefault((row[0], row[1]), {})[f"{row[2]} {row[3]}"] = int(row[4])
        return out

    return await db.read(work)

