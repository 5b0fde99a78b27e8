"""Run a scenario into a sandbox (sandbox.py), in real time or faster, and write its report.

The scenario's steps are put in at their times (divided by `speed`); a held message of the
officers is approved by the drill's second officer when the step says so. When the last step's
messages have settled, the report is read from the sandbox's own ledger (docs/drills.md).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from broadcaster.app import open_runtime, serving
from broadcaster.bus import Bus, open_bus
from broadcaster.drill.report import AlertOutcome, DrillReport, Sent, StepReport
from broadcaster.drill.sandbox import SandboxPool, exercise, sandbox_settings, stages
from broadcaster.drill.scenario import Scenario, Step
from broadcaster.errors import BroadcasterError
from broadcaster.logging import get_logger
from broadcaster.model import RawEvent, now
from broadcaster.pipeline.approval import approve
from broadcaster.pipeline.ingest import submit
from broadcaster.pipeline.runtime import load_parsers
from broadcaster.settings import Settings
from broadcaster.sources import raw_from_file
from broadcaster.store import migrate
from broadcaster.store import tables as t
from broadcaster.store.audiences import Audiences, Person
from broadcaster.store.ledger import Ledger
from broadcaster.store.sealed import attach
from broadcaster.store.users import Role, Users

log = get_logger(__name__)
APPROVER = "drill-approver"
SETTLE_S = 30.0


def raw_of(scenario: Scenario, step: Step) -> RawEvent:
    if step.manual is not None:
        body = {**step.manual, "status": "Exercise"}
        return RawEvent(
            source="manual",
            content_type="application/vnd.broadcaster.manual+json",
            body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            tenant=scenario.tenant,
            submitted_by=f"officer:{scenario.tenant}/{step.officer}",
            source_ref=f"drill:{scenario.name}",
        )
    assert step.file is not None
    return raw_from_file(
        scenario.base / step.file, officer=None, tenant=scenario.tenant, source=None, known_tenants=None
    )


async def _alerts_of(ledger: Ledger, raw_id: str, tenant: str) -> list[dict[str, Any]]:
    def work(c: sa.Connection) -> list[dict[str, Any]]:
        a = t.alerts.c
        rows = c.execute(
            sa.select(a.tenant, a.identifier, a.kind, a.status, a.msg_type, a.headline, a.state, a.routed)
            .where(a.raw_event_id == raw_id, a.tenant == tenant)
            .order_by(a.received)
        )
        return [dict(r._mapping) for r in rows]

    return await ledger.db.read(work)


async def _refusal(ledger: Ledger, raw_id: str) -> str | None:
    def work(c: sa.Connection) -> str | None:
        q = t.quarantine.c
        row = c.execute(sa.select(q.reason, q.detail).where(q.raw_event_id == raw_id)).first()
        return f"{row.reason}: {row.detail[:200]}" if row is not None else None

    return await ledger.db.read(work)


async def _dispatches(ledger: Ledger, tenant: str, alert_id: str) -> list[Any]:
    def work(c: sa.Connection) -> list[Any]:
        d = t.dispatches.c
        return list(
            c.execute(
                sa.select(d.channel, d.state, d.accepted_at).where(d.tenant == tenant, d.alert_id == alert_id)
            )
        )

    return await ledger.db.read(work)


async def _approval_at(ledger: Ledger, tenant: str, alert_id: str) -> datetime | None:
    def work(c: sa.Connection) -> datetime | None:
        a = t.audit_log.c
        row = c.execute(
            sa.select(a.at)
            .where(a.tenant == tenant, a.target == alert_id, a.action == "approve")
            .order_by(a.id)
        ).first()
        return row.at if row is not None else None

    return await ledger.db.read(work)


async def _settled(ledger: Ledger) -> bool:
    def work(c: sa.Connection) -> int:
        return int(
            c.execute(
                sa.select(sa.func.count())
                .select_from(t.dispatches)
                .where(t.dispatches.c.state.in_(["pending", "sending", "failed"]))
            ).scalar()
            or 0
        )

    def unread(c: sa.Connection) -> int:
        r = t.raw_events.c
        query = sa.select(sa.func.count()).select_from(t.raw_events).where(r.status == "received")
        return int(c.execute(query).scalar() or 0)

    unrouted = await ledger.unrouted_alerts(timedelta(0))
    return await ledger.db.read(work) == 0 and not unrouted and await ledger.db.read(unread) == 0


class DrillRun:
    def __init__(
        self,
        settings: Settings,
        scenario: Scenario,
        *,
        speed: float = 1.0,
        root: Path | None = None,
        officers: Sequence[Person] = (),
    ) -> None:
        if scenario.tenant not in settings.tenants:
            raise BroadcasterError(f"scenario {scenario.name!r}: unknown tenant {scenario.tenant!r}")
        self.scenario = scenario
        self.speed = max(speed, 0.001)
        self.root = root or settings.var_dir / "drills" / "runs" / uuid.uuid4().hex[:12]
        self.settings = sandbox_settings(settings, self.root)
        self.reports_dir = settings.var_dir / "drills" / "reports"
        # The town's officers, so that what the rules send them in a drill shows in the report;
        # their addresses reach only the sandbox's outbox like everything else.
        self.officers = [p for p in officers if p.kind == "officer" and p.active]

    async def run(self, on_step: Callable[[int, Step], None] | None = None) -> DrillReport:
        self.root.mkdir(parents=True, exist_ok=True)
        sb = self.settings
        bus = open_bus(sb.bus)
        await bus.start()
        ledger = Ledger.connect(sb.db_url)
        attach(ledger.db, sb.privacy.cipher())
        try:
            await migrate.upgrade(ledger.db)
            await ledger.ensure_tenants((x.id, x.name) for x in sb.tenants.values())
            await Users(ledger.db).add(
                APPROVER,
                display_name="訓練の承認者",
                home_tenant=self.scenario.tenant,
                # An account that cannot sign in (no hash verifies "!", and the sandbox has no web
                # server): it exists so that approval passes the same checks as in the console.
                password_hash="!",  # noqa: S106
                totp_secret=secrets.token_hex(16),
                roles={self.scenario.tenant: Role.APPROVER},
            )
            audiences = Audiences(ledger.db)
            for p in self.officers:
                await audiences.add(
                    self.scenario.tenant,
                    kind="officer",
                    name=p.name,
                    language=p.language,
                    districts=p.districts,
                    topics=p.topics,
                    endpoints=dict(p.endpoints),
                    external_ref=p.external_id,
                    title=p.title,
                )
            # The sandbox's adapters (its outbox) and parsers (everything Exercise), in the
            # composition root's place for the settings' own.
            async with (
                open_runtime(sb, bus, ledger, adapters=SandboxPool(sb), parsers=[exercise(p) for p in load_parsers()]) as rt,
                serving(rt, stages(sb)) as process,
            ):
                await process.pipeline.ready()
                return await self._steps(bus, ledger, on_step)
        finally:
            await ledger.close()
            await bus.close()

    async def _steps(
        self, bus: Bus, ledger: Ledger, on_step: Callable[[int, Step], None] | None
    ) -> DrillReport:
        started = now()
        t0 = time.monotonic()
        triggers: list[tuple[Step, RawEvent, float, datetime]] = []
        approvals: list[asyncio.Task[None]] = []
        for i, step in enumerate(self.scenario.steps, 1):
            await asyncio.sleep(step.after / self.speed)
            raw = raw_of(self.scenario, step)
            at = now()
            await submit(bus, raw, ledger)
            if on_step is not None:
                on_step(i, step)
            triggers.append((step, raw, time.monotonic() - t0, at))
            if step.approve_after is not None:
                approvals.append(
                    asyncio.create_task(self._approve(bus, ledger, raw.id, step.approve_after / self.speed))
                )
        for task in approvals:
            await task
        # Settled twice, half a second apart: a stage between two writes is never taken for quiet.
        quiet = 0
        for _ in range(int(SETTLE_S * 10)):
            quiet = quiet + 1 if await _settled(ledger) else 0
            if quiet >= 5:
                break
            await asyncio.sleep(0.1)
        steps = [
            await self._step_report(ledger, i, step, raw, offset, at)
            for i, (step, raw, offset, at) in enumerate(triggers, 1)
        ]
        report = DrillReport(
            scenario=self.scenario.name,
            tenant=self.scenario.tenant,
            started=started.isoformat(),
            speed=self.speed,
            sandbox=str(self.root),
            steps=tuple(steps),
        )
        report.save(self.reports_dir)
        return report

    async def _approve(self, bus: Bus, ledger: Ledger, raw_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            held = [a for a in await _alerts_of(ledger, raw_id, self.scenario.tenant) if a["state"] == "held"]
            if held:
                for a in held:
                    await approve(
                        bus,
                        ledger,
                        a["tenant"],
                        a["identifier"],
                        f"officer:{self.scenario.tenant}/{APPROVER}",
                        origin="drill",
                    )
                return
            if await _alerts_of(ledger, raw_id, self.scenario.tenant):
                return  # routed without waiting: nothing to approve
            await asyncio.sleep(0.05)

    async def _step_report(
        self, ledger: Ledger, index: int, step: Step, raw: RawEvent, offset: float, at: datetime
    ) -> StepReport:
        outcomes: list[AlertOutcome] = []
        carried: set[str] = set()
        for a in await _alerts_of(ledger, raw.id, self.scenario.tenant):
            rows = await _dispatches(ledger, a["tenant"], a["identifier"])
            by_channel: dict[str, list[Any]] = {}
            for r in rows:
                by_channel.setdefault(r.channel, []).append(r)
            sent = []
            for channel, rs in sorted(by_channel.items()):
                accepted = [r.accepted_at for r in rs if r.state == "accepted" and r.accepted_at is not None]
                if accepted:
                    carried.add(channel)
                sent.append(
                    Sent(
                        channel=channel,
                        dispatches=len(rs),
                        accepted=len(accepted),
                        first_s=round((min(accepted) - at).total_seconds(), 3) if accepted else None,
                    )
                )
            approved = await _approval_at(ledger, a["tenant"], a["identifier"])
            outcomes.append(
                AlertOutcome(
                    identifier=a["identifier"],
                    kind=a["kind"],
                    status=a["status"],
                    msg_type=a["msg_type"],
                    headline=a["headline"] or "",
                    held=approved is not None or a["state"] == "held",
                    routed_s=round((a["routed"] - at).total_seconds(), 3) if a["routed"] else None,
                    approved_s=round((approved - at).total_seconds(), 3) if approved else None,
                    sent=tuple(sent),
                )
            )
        missed = [f"{c}: expected, nothing went out" for c in step.expect if c not in carried]
        if outcomes and not carried:
            missed.append(
                "no medium carried it: no rule sent it anywhere, or only to people the sandbox lacks"
            )
        missed += [
            f"{o.identifier}: still waiting for a second officer"
            for o in outcomes
            if o.held and o.approved_s is None
        ]
        refused = await _refusal(ledger, raw.id)
        if not outcomes and refused is None:
            missed.append("no town's area: nothing was made of it")
        return StepReport(
            index=index,
            note=step.note,
            input=str(step.file) if step.file is not None else "manual",
            trigger_s=round(offset, 3),
            actor=raw.submitted_by if step.manual is not None else raw.source,
            alerts=tuple(outcomes),
            refused=refused,
            missed=tuple(missed),
        )
