"""Officers' scheduled and recurring sends: a composed alert the scheduler sends later.

The job carries the manual-alert document exactly as previewed and the officer who scheduled it;
when it comes due it enters the pipeline like any officer's send (recorded, then published) and
passes the same rules, approval included.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from broadcaster.bus import Bus
from broadcaster.logging import get_logger
from broadcaster.model import RawEvent
from broadcaster.model.manual import CONTENT_TYPE, manual_alert_id
from broadcaster.pipeline.ingest import submit
from broadcaster.scheduler import SchedulerService
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)

KIND = "send.manual"


def job_id(tenant: str) -> str:
    return f"send.{tenant}.{uuid.uuid4().hex[:12]}"


async def schedule_once(
    service: SchedulerService, tenant: str, doc: dict[str, Any], officer: str, at: datetime
) -> str:
    jid = job_id(tenant)
    await service.add_at(jid, at, KIND, {"tenant": tenant, "doc": doc, "officer": officer})
    return jid


async def schedule_recurring(
    service: SchedulerService, tenant: str, doc: dict[str, Any], officer: str, cron: str
) -> str:
    jid = job_id(tenant)
    await service.add_cron(jid, cron, KIND, {"tenant": tenant, "doc": doc, "officer": officer})
    return jid


async def tenant_jobs(service: SchedulerService, tenant: str) -> list[dict[str, Any]]:
    return [j for j in await service.list_jobs() if j["kind"] == KIND and j["payload"].get("tenant") == tenant]


def register(service: SchedulerService, bus: Bus, ledger: Ledger) -> None:
    async def send(payload: dict[str, Any]) -> None:
        tenant, doc, officer = payload["tenant"], payload["doc"], payload["officer"]
        raw = RawEvent(
            source="manual",
            content_type=CONTENT_TYPE,
            body=json.dumps(doc, ensure_ascii=False).encode("utf-8"),
            tenant=tenant,
            submitted_by=officer,
            source_ref="scheduler",
        )
        await submit(bus, raw, ledger)
        await ledger.audit(
            actor=officer, action="scheduled_send", tenant=tenant, target=manual_alert_id(tenant, raw.id), origin="scheduler",
            detail={"headline": doc.get("headline"), "status": doc.get("status")},
        )
        log.info("scheduled_send", tenant=tenant, raw=raw.id)

    service.handle(KIND, send)
