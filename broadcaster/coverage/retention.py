"""Retention of what coverage keeps per household: reach marks, safety answers (their notes are a
resident's own words), the leaders' marks on the support list and flags are deleted once the alert is older than
`coverage.retention_days` (docs/coverage.md, docs/privacy.md). Run with the daily retention job
and `broadcaster retention run`; running it again finds nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from broadcaster.logging import get_logger
from broadcaster.model import now
from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)


@dataclass
class CoveragePurge:
    cutoff: datetime
    marks: int = 0
    answers: int = 0
    flags: int = 0
    support: int = 0  # leaders' marks on the support list


async def purge_coverage(
    ledger: Ledger, *, older_than: timedelta, at: datetime | None = None, dry_run: bool = False
) -> CoveragePurge:
    report = CoveragePurge(cutoff=(at or now()) - older_than)
    a = t.alerts
    # Rows of alerts older than the cutoff, and rows whose alert is gone altogether.
    young = sa.select(a.c.identifier).where(a.c.received >= report.cutoff)

    def work(c: sa.Connection) -> tuple[int, int, int, int]:
        counts: list[int] = []
        for table in (t.reach_marks, t.safety_answers, t.coverage_flags, t.support_marks):
            due = sa.and_(table.c.alert_id.not_in(young), table.c.at < report.cutoff)
            if dry_run:
                counts.append(
                    int(c.execute(sa.select(sa.func.count()).select_from(table).where(due)).scalar() or 0)
                )
            else:
                counts.append(int(c.execute(table.delete().where(due)).rowcount or 0))
        return counts[0], counts[1], counts[2], counts[3]

    report.marks, report.answers, report.flags, report.support = await (
        ledger.db.read(work) if dry_run else ledger.db.write(work)
    )
    if not dry_run and (report.marks or report.answers or report.flags or report.support):
        await ledger.audit(
            actor="system:retention", action="retention_purge_coverage",
            detail={"cutoff": report.cutoff.isoformat(), "marks": report.marks, "answers": report.answers, "flags": report.flags,
                    "support_marks": report.support},
        )  # fmt: skip
    log.info(
        "coverage_retention_run",
        marks=report.marks,
        answers=report.answers,
        flags=report.flags,
        dry_run=dry_run,
    )
    return report
