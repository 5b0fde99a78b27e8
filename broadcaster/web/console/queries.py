"""What the console reads: always for one tenant, never more than a page needs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from broadcaster.model import Alert, AlertState, DispatchState, now
from broadcaster.pipeline.runtime import Runtime
from broadcaster.render.preview import PreviewRow, preview
from broadcaster.rules.simulate import Table, simulate
from broadcaster.settings import Settings
from broadcaster.store import reports
from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger

# A dispatch that did not get through: to be retried, or given up on.
_FAILING = (DispatchState.FAILED, DispatchState.DEAD)


async def held_alerts(ledger: Ledger, tenant: str) -> list[dict[str, Any]]:
    a = t.alerts
    query = (
        sa.select(
            a.c.identifier, a.c.headline, a.c.status, a.c.sent, a.c.submitted_by, a.c.kind, a.c.severity
        )
        .where(a.c.tenant == tenant, a.c.state == AlertState.HELD)
        .order_by(a.c.received.desc())
    )
    return await ledger.db.read(lambda c: [dict(r._mapping) for r in c.execute(query)])


@dataclass(frozen=True)
class AlertSummary:
    identifier: str
    headline: str | None
    status: str
    msg_type: str
    state: str
    sent: datetime
    origin: str
    dispatches: int
    accepted: int
    failing: int
    channels: int


async def recent_alerts(ledger: Ledger, tenant: str, limit: int = 30) -> list[AlertSummary]:
    a, d = t.alerts, t.dispatches
    counts = (
        sa.select(
            d.c.alert_id,
            sa.func.count().label("n"),
            sa.func.sum(sa.case((d.c.state == DispatchState.ACCEPTED, 1), else_=0)).label("ok"),
            sa.func.sum(sa.case((d.c.state.in_(_FAILING), 1), else_=0)).label("bad"),
            sa.func.count(sa.distinct(d.c.channel)).label("channels"),
        )
        .where(d.c.tenant == tenant)
        .group_by(d.c.alert_id)
        .subquery()
    )
    query = (
        sa.select(a, counts.c.n, counts.c.ok, counts.c.bad, counts.c.channels)
        .select_from(a.outerjoin(counts, counts.c.alert_id == a.c.identifier))
        .where(a.c.tenant == tenant)
        .order_by(a.c.received.desc())
        .limit(limit)
    )

    def work(c: sa.Connection) -> list[AlertSummary]:
        return [
            AlertSummary(
                identifier=r.identifier,
                headline=r.headline,
                status=r.status,
                msg_type=r.msg_type,
                state=r.state,
                sent=r.sent,
                origin=r.origin,
                dispatches=int(r.n or 0),
                accepted=int(r.ok or 0),
                failing=int(r.bad or 0),
                channels=int(r.channels or 0),
            )
            for r in c.execute(query)
        ]

    return await ledger.db.read(work)


async def failures(ledger: Ledger, tenant: str, hours: int = 24) -> list[dict[str, Any]]:
    d, a = t.dispatches, t.alerts
    since = now() - timedelta(hours=hours)
    query = (
        sa.select(
            d.c.key,
            d.c.alert_id,
            d.c.channel,
            d.c.audience,
            d.c.state,
            d.c.last_error,
            d.c.attempts,
            d.c.updated,
            a.c.headline,
        )
        .select_from(d.join(a, sa.and_(a.c.tenant == d.c.tenant, a.c.identifier == d.c.alert_id)))
        .where(d.c.tenant == tenant, d.c.state.in_(_FAILING), d.c.updated >= since)
        .order_by(d.c.updated.desc())
        .limit(100)
    )
    return await ledger.db.read(lambda c: [dict(r._mapping) for r in c.execute(query)])


async def alert_meta(ledger: Ledger, tenant: str, alert_id: str) -> dict[str, Any] | None:
    a = t.alerts
    query = sa.select(a.c.state, a.c.submitted_by, a.c.received, a.c.routed, a.c.origin, a.c.status).where(
        a.c.tenant == tenant, a.c.identifier == alert_id
    )

    def work(c: sa.Connection) -> dict[str, Any] | None:
        row = c.execute(query).first()
        return dict(row._mapping) if row else None

    return await ledger.db.read(work)


async def stop_note(ledger: Ledger, tenant: str, alert_id: str) -> dict[str, Any] | None:
    """Who withdrew or rejected a held alert, when, and the approver's reason."""
    log = t.audit_log
    query = (
        sa.select(log.c.actor, log.c.action, log.c.at, log.c.detail)
        .where(log.c.tenant == tenant, log.c.target == alert_id, log.c.action.in_(["withdraw", "reject"]))
        .order_by(log.c.id.desc())
        .limit(1)
    )

    def work(c: sa.Connection) -> dict[str, Any] | None:
        row = c.execute(query).first()
        return dict(row._mapping) if row else None

    return await ledger.db.read(work)


@dataclass
class ChannelDelivery:
    row: reports.ChannelRow
    first_send: datetime | None
    last_answer: datetime | None
    problems: list[dict[str, Any]]


@dataclass
class Deliveries:
    channels: list[ChannelDelivery]
    received: datetime | None
    routed: datetime | None
    max_latency_ms: float


async def deliveries(ledger: Ledger, tenant: str, alert_id: str) -> Deliveries:
    rows = await reports.channel_table(ledger, tenant=tenant, alert_id=alert_id)
    at, d = t.attempts, t.dispatches

    def work(c: sa.Connection) -> tuple[list[Any], list[Any]]:
        attempts = list(
            c.execute(
                sa.select(
                    at.c.channel,
                    at.c.status,
                    at.c.started,
                    at.c.finished,
                    at.c.error,
                    at.c.hops,
                    at.c.dispatch_key,
                )
                .where(at.c.tenant == tenant, at.c.alert_id == alert_id)
                .order_by(at.c.id)
            )
        )
        problems = list(
            c.execute(
                sa.select(
                    d.c.key, d.c.channel, d.c.audience, d.c.batch, d.c.state, d.c.last_error, d.c.attempts
                ).where(
                    d.c.tenant == tenant,
                    d.c.alert_id == alert_id,
                    d.c.state.in_([*_FAILING, DispatchState.SENDING, DispatchState.PENDING]),
                )
            )
        )
        return attempts, problems

    attempts, problems = await ledger.db.read(work)
    received = routed = None
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    for a in attempts:
        hops = a.hops or {}
        if hops.get("received") and received is None:
            received = datetime.fromisoformat(hops["received"])
        if hops.get("routed") and routed is None:
            routed = datetime.fromisoformat(hops["routed"])
        if a.started and (a.channel not in first or a.started < first[a.channel]):
            first[a.channel] = a.started
        if a.finished and (a.channel not in last or a.finished > last[a.channel]):
            last[a.channel] = a.finished
    channels = [
        ChannelDelivery(
            row=r,
            first_send=first.get(r.channel),
            last_answer=last.get(r.channel),
            problems=[dict(p._mapping) for p in problems if p.channel == r.channel],
        )
        for r in rows
    ]
    top = max((r.latency_max_ms or 0.0 for r in rows), default=0.0)
    return Deliveries(channels, received, routed, top)


def preview_rows(rt: Runtime, alert: Alert, tenant: Any, languages: Sequence[str]) -> list[PreviewRow]:
    return preview(
        alert,
        rt.renderer,
        tenant=tenant.id,
        tenant_name=tenant.name,
        public_url=rt.settings.web.public_url,
        channels=list(rt.profiles),
        languages=list(languages),
        profiles=rt.profiles,
    )


@dataclass
class MediumSummary:
    channel: str
    audiences: list[str]  # audience ids, in the table's order
    people: int  # counted people (broadcast channels reach everyone and count none)
    everyone: bool
    approval: bool


def preview_summary(table: Table) -> list[MediumSummary]:
    """The decision table folded per medium: what the officer reads first in the preview."""
    out: dict[str, MediumSummary] = {}
    for r in table.rows:
        m = out.setdefault(r.channel, MediumSummary(r.channel, [], 0, False, False))
        if r.audience not in m.audiences:
            m.audiences.append(r.audience)
        m.people += r.people or 0
        m.everyone = m.everyone or r.broadcast
        m.approval = m.approval or r.approval
    return list(out.values())


async def decision_table(rt: Runtime, alert: Alert) -> Table:
    assert alert.tenant is not None
    try:
        counts = await rt.audiences.counts(alert.tenant)
    except Exception:  # counts are a help, not a condition for sending
        counts = None
    return simulate(
        alert, rt.rules.get(alert.tenant), rt.directory.context(alert.tenant, alert), rt.profiles, counts
    )


async def change_mark(ledger: Ledger, tenant: str) -> tuple[Any, ...]:
    a, d = t.alerts, t.dispatches

    def work(c: sa.Connection) -> tuple[Any, ...]:
        alerts = c.execute(
            sa.select(sa.func.count(), sa.func.max(a.c.received)).where(a.c.tenant == tenant)
        ).first()
        moves = c.execute(sa.select(sa.func.max(d.c.updated)).where(d.c.tenant == tenant)).scalar()
        states = c.execute(
            sa.select(sa.func.count()).select_from(a).where(a.c.tenant == tenant, a.c.state == AlertState.HELD)
        ).scalar()
        return (alerts[0] if alerts else 0, alerts[1] if alerts else None, moves, states)

    return await ledger.db.read(work)


async def audit_rows(ledger: Ledger, tenant: str, limit: int = 500) -> list[dict[str, Any]]:
    log, a, u = t.audit_log, t.alerts, t.users
    # Failed logins carry no tenant: those of this town's own officers belong in its log (a name
    # nobody holds is not attributed to any town, so no town learns another's user names).
    own_logins = sa.select(sa.literal("login:") + u.c.username).where(u.c.home_tenant == tenant)
    query = (
        sa.select(log, a.c.headline.label("alert_headline"), a.c.status.label("alert_status"), a.c.msg_type)
        .select_from(log.outerjoin(a, sa.and_(a.c.tenant == tenant, a.c.identifier == log.c.target)))
        .where(
            sa.or_(
                log.c.tenant == tenant,
                log.c.actor.like(f"officer:{tenant}/%"),
                log.c.actor.in_(own_logins.scalar_subquery()),
            )
        )
        .order_by(log.c.id.desc())
        .limit(limit)
    )
    return await ledger.db.read(lambda c: [dict(r._mapping) for r in c.execute(query)])


def audit_csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at", "actor", "tenant", "action", "target", "origin", "detail", "hash"])
    for r in rows:
        writer.writerow(
            [
                r["id"],
                r["at"].isoformat(),
                r["actor"],
                r["tenant"] or "",
                r["action"],
                r["target"] or "",
                r["origin"] or "",
                json.dumps(r["detail"], ensure_ascii=False),
                r["hash"],
            ]
        )
    return out.getvalue()


async def sources(settings: Settings, ledger: Ledger) -> tuple[list[Any], bool]:
    """The sources' freshness, and whether the town is on its backup (docs/qzss.md, *Health*)."""
    from broadcaster.pipeline.feeds import backup_only, freshness, is_backup

    rows = await freshness(settings, ledger.db)
    backups = {n for n, c in settings.ingest.items() if c.enabled and is_backup(n, settings)}
    shown = [
        {
            "name": f"{f.source}/{f.feed}",
            "stale": f.stale,
            "never": f.last_success is None,
            # Decision 8: a time shown to a person is in the town's zone, with its label: the
            # page's clock() gives both.
            "last": f.last_success,
        }
        for f in rows
    ]
    return shown, backup_only(rows, backups)
