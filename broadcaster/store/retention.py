"""Retention: dispatches forget whom they went to once nobody can need it any more.

A dispatch keeps its recipient batch (docs/decisions.md, decision 1) so that a retry resends exactly it,
and an update or a cancel of the event reaches exactly the same people (decision 3). Neither can
happen once the dispatch is final and its event has been quiet for the retention period
(`privacy.recipients_retention_days`): then the list is purged, and what stays is the record of
what was sent, on which channel, when, to how many (`recipient_count`), never to whom.

Run by `broadcaster retention run` and, daily, by the scheduler's `retention` job. Each batch is
one transaction; running it again finds nothing more to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from broadcaster.logging import get_logger
from broadcaster.model import now
from broadcaster.model.states import FINAL_STATES
from broadcaster.settings import Settings
from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)

ACTOR = "system:retention"


@dataclass
class RetentionReport:
    cutoff: datetime
    dispatches: int = 0  # lists purged
    recipients: int = 0  # addresses in them
    marked: int = 0  # old final dispatches that had no list (website, SNS, broadcasts)
    waiting: int = 0  # old but kept: not final, or their event is not quiet yet
    dry_run: bool = False


def _due(cutoff: datetime) -> list[sa.ColumnElement[bool]]:
    d, a = t.dispatches, t.alerts
    last_of_event = (
        sa.select(sa.func.max(a.c.received))
        .where(a.c.tenant == d.c.tenant, a.c.event_key == d.c.event_key)
        .scalar_subquery()
    )
    return [
        d.c.recipients_purged.is_(None),
        d.c.created < cutoff,
        d.c.state.in_(sorted(FINAL_STATES)),
        sa.or_(last_of_event.is_(None), last_of_event < cutoff),
    ]


async def purge_recipients(
    ledger: Ledger,
    *,
    older_than: timedelta,
    at: datetime | None = None,
    batch: int = 500,
    dry_run: bool = False,
) -> RetentionReport:
    at = at or now()
    report = RetentionReport(cutoff=at - older_than, dry_run=dry_run)
    d = t.dispatches
    due = _due(report.cutoff)

    def count_waiting(c: sa.Connection) -> int:
        old = [d.c.recipients_purged.is_(None), d.c.created < report.cutoff]
        everything = c.execute(sa.select(sa.func.count()).select_from(d).where(*old)).scalar() or 0
        ready = c.execute(sa.select(sa.func.count()).select_from(d).where(*due)).scalar() or 0
        return int(everything) - int(ready)

    report.waiting = await ledger.db.read(count_waiting)
    offset = 0
    while True:

        def work(c: sa.Connection, offset: int = offset) -> tuple[int, int, int]:
            query = sa.select(d.c.key, d.c.data).where(*due).order_by(d.c.created, d.c.key).limit(batch)
            if dry_run:
                query = query.offset(offset)
            rows = c.execute(query).all()
            lists = addresses = 0
            for row in rows:
                data = dict(row.data)
                n = len(data.get("recipients") or [])
                values: dict[str, object] = {"recipients_purged": at, "recipient_count": n}
                if n:
                    lists += 1
                    addresses += n
                    values["data"] = {**data, "recipients": []}
                if not dry_run:
                    c.execute(d.update().where(d.c.key == row.key).values(**values))
            return len(rows), lists, addresses

        seen, lists, addresses = await (ledger.db.read(work) if dry_run else ledger.db.write(work))
        report.dispatches += lists
        report.recipients += addresses
        report.marked += seen - lists
        offset += seen
        if seen < batch:
            break
    if not dry_run and (report.dispatches or report.marked):
        await ledger.audit(
            actor=ACTOR,
            action="retention_purge",
            detail={
                "cutoff": report.cutoff.isoformat(),
                "dispatches": report.dispatches,
                "recipients": report.recipients,
                "marked": report.marked,
            },
        )
    log.info(
        "retention_run",
        cutoff=report.cutoff.isoformat(),
        dispatches=report.dispatches,
        recipients=report.recipients,
        marked=report.marked,
        waiting=report.waiting,
        dry_run=dry_run,
    )
    return report


RETENTION_JOB = "retention"


def schedule_retention(scheduler: Any, ledger: Ledger, settings: Settings) -> None:
    """The daily retention job on the deployment's scheduler (broadcaster/scheduler.py)."""
    period = timedelta(days=settings.privacy.recipients_retention_days)

    async def run(payload: dict[str, Any]) -> None:
        from broadcaster.coverage.retention import purge_coverage

        await purge_recipients(ledger, older_than=period)
        await purge_coverage(ledger, older_than=timedelta(days=settings.coverage.retention_days))

    scheduler.handle(RETENTION_JOB, run)
    scheduler.schedule_cron("privacy-retention", settings.privacy.retention_cron, RETENTION_JOB, {})
