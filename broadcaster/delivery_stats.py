"""What became of an alert's sends, as the providers report it afterwards, kept in the ledger.

* LINE: its insight per request id (broadcasts, narrowcasts) and per aggregation unit (the
  event's multicasts and pushes), through the adapter (docs/decisions.md, decision 14);
* every channel: how many recipients its provider accepted, from the receipts (for Web Push and
  FCM that is each push service's 201/200, the only figure they give).

`broadcaster stats fetch` reads them into `delivery_stats`; `broadcaster stats show` and
`broadcaster status --alert` print them per alert. LINE's figures settle some days after a send,
so a later fetch replaces the earlier one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from broadcaster.channels import DeliveryStat, StatisticsReporting
from broadcaster.logging import get_logger
from broadcaster.model import JST, now
from broadcaster.pipeline.adapters import AdapterPool, resolve
from broadcaster.settings import Settings
from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StatRow:
    channel: str
    ref: str
    kind: str  # request | unit | accepted
    delivered: int | None
    opened: int | None
    clicked: int | None


@dataclass(frozen=True, slots=True)
class _Sent:
    channel: str
    refs: tuple[str, ...]
    event_key: str
    since: date
    accepted: int


async def _sent(ledger: Ledger, tenant: str, alert_id: str) -> list[_Sent]:
    d, a = t.dispatches, t.attempts

    def work(c: sa.Connection) -> list[_Sent]:
        rows = c.execute(
            sa.select(d.c.channel, d.c.provider_ref, d.c.event_key, d.c.created).where(
                d.c.tenant == tenant, d.c.alert_id == alert_id, d.c.state == "accepted", d.c.mode == "live"
            )
        ).all()
        accepted = dict(
            c.execute(
                sa.select(a.c.channel, sa.func.sum(a.c.recipients))
                .where(a.c.tenant == tenant, a.c.alert_id == alert_id, a.c.status == "accepted")
                .group_by(a.c.channel)
            ).all()
        )
        out: dict[str, _Sent] = {}
        for r in rows:
            seen = out.get(r.channel)
            refs = tuple(x for x in (r.provider_ref,) if x)
            day = r.created.astimezone(JST).date()
            out[r.channel] = (
                _Sent(r.channel, refs, r.event_key, day, int(accepted.get(r.channel) or 0))
                if seen is None
                else _Sent(r.channel, seen.refs + refs, seen.event_key, min(seen.since, day), seen.accepted)
            )
        return list(out.values())

    return await ledger.db.read(work)


async def fetch(
    settings: Settings, ledger: Ledger, tenant: str, alert_id: str, *, pool: AdapterPool | None = None
) -> list[StatRow]:
    """Ask the providers about one alert's sends and keep what they say."""
    own = pool is None
    adapters = pool or AdapterPool(settings)
    rows: list[StatRow] = []
    try:
        for sent in await _sent(ledger, tenant, alert_id):
            rows.append(StatRow(sent.channel, "receipts", "accepted", sent.accepted, None, None))
            if not resolve(settings, tenant, sent.channel).live:
                continue
            adapter: Any = adapters.get(tenant, sent.channel)
            if not isinstance(adapter, StatisticsReporting):
                continue
            stats: list[DeliveryStat] = await adapter.statistics(tenant, sent.event_key, sent.refs, sent.since)
            rows.extend(StatRow(sent.channel, s.ref, s.kind, s.delivered, s.opened, s.clicked) for s in stats)
    finally:
        if own:
            await adapters.close()
    await _keep(ledger, tenant, alert_id, rows)
    log.info("delivery_stats_fetched", tenant=tenant, alert=alert_id, rows=len(rows))
    return rows


async def _keep(ledger: Ledger, tenant: str, alert_id: str, rows: Sequence[StatRow]) -> None:
    s = t.delivery_stats
    at = now()

    def work(c: sa.Connection) -> None:
        for r in rows:
            c.execute(
                s.delete().where(
                    s.c.tenant == tenant, s.c.alert_id == alert_id, s.c.channel == r.channel, s.c.ref == r.ref
                )
            )
            c.execute(
                s.insert().values(
                    tenant=tenant,
                    alert_id=alert_id,
                    channel=r.channel,
                    ref=r.ref[:200],
                    kind=r.kind,
                    delivered=r.delivered,
                    opened=r.opened,
                    clicked=r.clicked,
                    fetched=at,
                )
            )

    await ledger.db.write(work)


async def read(ledger: Ledger, tenant: str, alert_id: str) -> list[dict[str, Any]]:
    s = t.delivery_stats
    query = (
        sa.select(s)
        .where(s.c.tenant == tenant, s.c.alert_id == alert_id)
        .order_by(s.c.channel, s.c.kind, s.c.ref)
    )
    return await ledger.db.read(lambda c: [dict(r._mapping) for r in c.execute(query)])


def render(rows: Sequence[dict[str, Any]]) -> list[str]:
    def n(v: int | None) -> str:
        return "-" if v is None else f"{v:,}"

    lines = [f"    {'channel':<11}{'what':<10}{'delivered':>10}{'opened':>8}{'clicked':>8}  ref"]
    for r in rows:
        lines.append(
            f"    {r['channel']:<11}{r['kind']:<10}{n(r['delivered']):>10}{n(r['opened']):>8}{n(r['clicked']):>8}"
            f"  {r['ref']}"
        )
    return lines
