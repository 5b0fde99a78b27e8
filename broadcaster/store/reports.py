"""Read-only views of the ledger for `broadcaster status`, the demo and the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger


@dataclass(frozen=True, slots=True)
class ChannelRow:
    tenant: str
    alert_id: str
    channel: str
    dispatches: int
    accepted: int
    failed: int
    dead: int
    superseded: int
    recorded: int
    waiting: int  # pending, sending or held
    recipients: int
    mode: str
    latency_p50_ms: float | None
    latency_max_ms: float | None
    first_accepted: datetime | None
    last_accepted: datetime | None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def channel_table(
    ledger: Ledger, *, tenant: str | None = None, alert_id: str | None = None
) -> list[ChannelRow]:
    d = t.dispatches
    query = sa.select(
        d.c.tenant, d.c.alert_id, d.c.channel, d.c.state, d.c.mode, d.c.latency_ms, d.c.accepted_at, d.c.data,
        d.c.recipient_count,
    )
    if tenant is not None:
        query = query.where(d.c.tenant == tenant)
    if alert_id is not None:
        query = query.where(d.c.alert_id == alert_id)
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for r in await ledger.db.read(lambda c: list(c.execute(query.order_by(d.c.created)))):
        groups.setdefault((r.tenant, r.alert_id, r.channel), []).append(r)
    out: list[ChannelRow] = []
    for (ten, alert, channel), rows in groups.items():
        states = [r.state for r in rows]
        latencies = [r.latency_ms for r in rows if r.latency_ms is not None]
        accepted_at = [r.accepted_at for r in rows if r.accepted_at is not None]
        modes = sorted({r.mode for r in rows if r.mode})
        out.append(
            ChannelRow(
                tenant=ten,
                alert_id=alert,
                channel=channel,
                dispatches=len(rows),
                accepted=states.count("accepted"),
                failed=states.count("failed"),
                dead=states.count("dead"),
                superseded=states.count("superseded"),
                recorded=states.count("recorded"),
                waiting=sum(s in ("pending", "sending", "held") for s in states),
                # A purged list (retention) leaves its count behind.
                recipients=sum(len(r.data.get("recipients") or []) or (r.recipient_count or 0) for r in rows),
                mode="/".join(modes) or "-",
                latency_p50_ms=_percentile(latencies, 0.5),
                latency_max_ms=max(latencies) if latencies else None,
                first_accepted=min(accepted_at) if accepted_at else None,
                last_accepted=max(accepted_at) if accepted_at else None,
            )
        )
    return out


async def alerts(ledger: Ledger, *, tenant: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    a = t.alerts
    query = sa.select(
        a.c.tenant,
        a.c.identifier,
        a.c.event_key,
        a.c.origin,
        a.c.status,
        a.c.msg_type,
        a.c.kind,
        a.c.severity,
        a.c.headline,
        a.c.sent,
        a.c.received,
        a.c.state,
    )
    if tenant is not None:
        query = query.where(a.c.tenant == tenant)
    return await ledger.db.read(
        lambda c: [dict(r._mapping) for r in c.execute(query.order_by(a.c.received.desc()).limit(limit))]
    )


async def quarantine(ledger: Ledger, *, limit: int = 50) -> list[dict[str, Any]]:
    q = t.quarantine
    query = (
        sa.select(q.c.id, q.c.raw_event_id, q.c.source, q.c.tenant, q.c.reason, q.c.detail, q.c.at)
        .order_by(q.c.id.desc())
        .limit(limit)
    )
    return await ledger.db.read(lambda c: [dict(r._mapping) for r in c.execute(query)])


async def dispatch_states(ledger: Ledger, *, tenant: str | None = None) -> dict[str, int]:
    d = t.dispatches
    query = sa.select(d.c.state, sa.func.count()).group_by(d.c.state)
    if tenant is not None:
        query = query.where(d.c.tenant == tenant)
    return await ledger.db.read(lambda c: {r[0]: int(r[1]) for r in c.execute(query)})


async def attempts(ledger: Ledger, dispatch_key: str | None = None) -> list[dict[str, Any]]:
    at = t.attempts
    query = sa.select(at)
    if dispatch_key is not None:
        query = query.where(at.c.dispatch_key == dispatch_key)
    return await ledger.db.read(lambda c: [dict(r._mapping) for r in c.execute(query.order_by(at.c.id))])


async def raw_processed(ledger: Ledger, raw_id: str) -> bool:
    """The raw event is recorded and none of its alerts waits to be routed."""

    def work(c: sa.Connection) -> bool:
        status = c.execute(sa.select(t.raw_events.c.status).where(t.raw_events.c.id == raw_id)).scalar()
        if status in (None, "received"):  # not yet decided by normalize
            return False
        waiting = c.execute(
            sa.select(sa.func.count())
            .select_from(t.alerts)
            .where(t.alerts.c.raw_event_id == raw_id, t.alerts.c.state == "received")
        ).scalar()
        return not waiting

    return await ledger.db.read(work)
