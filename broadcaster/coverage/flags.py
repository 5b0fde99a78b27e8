"""Flagged districts go to their leaders: a circular with the households not reached.

Every minute the scheduler's `coverage.sweep` job counts the coverage of the alerts still in
their first hours (`coverage.watch_hours`); a district newly flagged (docs/coverage.md) gets a
circular of kind ``coverage`` addressed to its leaders. From there the circulars' own chain
takes over: a reminder, the deputies, then the duty officers (docs/circulars.md), with the timings
of `circulars.timing.coverage`. The circular itself names no one: the leader's page lists the
households not reached as they are when the page is opened (broadcaster/web/circular_leader.py),
so personal data is never copied into the circular, and a household reached meanwhile is gone
from the list. Each district is flagged once per alert (`coverage_flags`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from broadcaster.circulars import ids
from broadcaster.circulars import store as cs
from broadcaster.circulars.service import Circulars
from broadcaster.coverage.counts import NO_DISTRICT, Coverage, Household, compute
from broadcaster.logging import get_logger
from broadcaster.store import tables as t
from broadcaster.store.db import Database

log = get_logger(__name__)

KIND = "coverage"
JOB = "coverage.sweep"
CRON = "* * * * *"
ACTOR = "system:coverage"


def _text(cov: Coverage, district: str, name: str, missing: int, households: int) -> tuple[str, str]:
    title = f"【到達確認】{name}：まだ届いていない世帯が{missing}世帯あります"
    body = (
        f"{cov.headline or '避難の情報'}について、{name}の{households}世帯のうち{missing}世帯に、"
        "まだどの手段でも届いたことが確認できていません。\n\n"
        "このページの下に、届いていない世帯の一覧があります。声をかけて伝えたら、"
        "その世帯の「伝えた」を押してください。一覧は開くたびに新しくなります。"
    )
    return title, body


async def _watched(svc: Circulars, at: datetime) -> list[tuple[str, str]]:
    """(tenant, alert id) of the alerts young enough to watch, of the statuses that send flags."""
    cfg = svc.settings.coverage
    a = t.alerts
    query = sa.select(a.c.tenant, a.c.identifier).where(
        a.c.received >= at - timedelta(hours=cfg.watch_hours),
        a.c.status.in_(cfg.flag_statuses),
        a.c.msg_type != "Cancel",
        a.c.state == "routed",
    )
    return await svc.db.read(lambda c: [(str(r[0]), str(r[1])) for r in c.execute(query)])


async def _claim(
    svc: Circulars, tenant: str, alert_id: str, district: str, share: float, at: datetime
) -> bool:
    """Take the district's one flag for the alert; False when another run took it."""
    f = t.coverage_flags

    def work(c: sa.Connection) -> bool:
        if c.execute(
            sa.select(f.c.district).where(
                f.c.tenant == tenant, f.c.alert_id == alert_id, f.c.district == district
            )
        ).first():
            return False
        c.execute(f.insert().values(tenant=tenant, alert_id=alert_id, district=district, share=share, at=at))
        return True

    return await svc.db.write(work)


async def _link(svc: Circulars, tenant: str, alert_id: str, district: str, circular_id: str) -> None:
    f = t.coverage_flags
    query = (
        f.update()
        .where(f.c.tenant == tenant, f.c.alert_id == alert_id, f.c.district == district)
        .values(circular_id=circular_id)
    )

    def work(c: sa.Connection) -> None:
        c.execute(query)

    await svc.db.write(work)


async def flag(svc: Circulars, tenant: str, alert_id: str, at: datetime | None = None) -> list[str]:
    """Send each newly flagged district of the alert its circular; the circulars' ids."""
    when = at or svc.clock()
    town = svc.settings.tenants.get(tenant)
    districts = {d.id: d.name for d in town.districts} if town is not None else {}
    cov = await compute(svc.db, tenant, alert_id, districts, svc.settings.coverage, at=when)
    if cov is None:
        return []
    made: list[str] = []
    for row in cov.flagged:
        if row.district == NO_DISTRICT or not await _claim(
            svc, tenant, alert_id, row.district, row.share, when
        ):
            continue
        title, body = _text(cov, row.district, row.name or row.district, row.not_reached, row.households)
        new = cs.NewCircular(
            id=ids.routine_circular(), tenant=tenant, origin="routine", kind=KIND, status=cov.status, priority="high",
            title=title, body=body, form="none", created_by=ACTOR, alert_id=alert_id, districts=(row.district,),
            release_at=when,
        )  # fmt: skip
        await cs.create_routine(svc.db, new, [], when)
        await _link(svc, tenant, alert_id, row.district, new.id)
        await svc.schedule_tick(tenant, new.id)
        log.warning(
            "coverage_flagged",
            tenant=tenant,
            district=row.district,
            share=round(row.share, 3),
            circular=new.id,
        )
        made.append(new.id)
    return made


async def sweep(svc: Circulars, at: datetime | None = None) -> list[str]:
    when = at or svc.clock()
    made: list[str] = []
    for tenant, alert_id in await _watched(svc, when):
        try:
            made += await flag(svc, tenant, alert_id, when)
        except Exception:  # one alert's trouble must not keep the others' districts unflagged
            log.exception("coverage_flag_failed", tenant=tenant, alert=alert_id)
    return made


async def flagged(db: Database, tenant: str, alert_id: str) -> dict[str, str | None]:
    """district → the circular that took its flag, for the alert (the console shows them)."""
    f = t.coverage_flags
    query = sa.select(f.c.district, f.c.circular_id).where(f.c.tenant == tenant, f.c.alert_id == alert_id)
    return await db.read(lambda c: {str(r[0]): r[1] for r in c.execute(query)})


async def unreached_in(svc: Circulars, tenant: str, alert_id: str, district: str) -> list[Household]:
    """The households of one district not reached yet, addresses opened: what its leader's page
    lists. Only that district's: a leader never sees another district's people."""
    town = svc.settings.tenants.get(tenant)
    districts = {d.id: d.name for d in town.districts} if town is not None else {}
    if district not in districts:
        return []
    cov = await compute(svc.db, tenant, alert_id, districts, svc.settings.coverage, addresses=True)
    row = next((r for r in cov.districts if r.district == district), None) if cov is not None else None
    return list(row.unreached) if row is not None else []


def register(svc: Circulars) -> None:
    """The sweep's handler on the shared scheduler (broadcaster/pipeline/scheduling.py)."""

    async def run(payload: dict[str, object]) -> None:
        await sweep(svc)

    svc.scheduler.handle(JOB, run)


def schedule(svc: Circulars) -> None:
    svc.scheduler.schedule_cron("coverage:sweep", CRON, JOB, {})
