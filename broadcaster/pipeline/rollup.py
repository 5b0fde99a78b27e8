"""ledger: receipts → the alert-level record, and word to the officers when a channel gives up.

Channel workers write each attempt to the ledger themselves (they need it to decide the next
send). This stage reads their receipts from the bus and does what no single channel can: it marks
an alert done when every dispatch of it is final, and when a dispatch is dead it raises a System
alert for the tenant's duty officers, at most once per channel per quiet period so that a provider
outage does not become a flood.
"""

from __future__ import annotations

import time

from pydantic import ValidationError

from broadcaster.bus import Ack, Bus, DeadLetter, Outcome, Record, Retry
from broadcaster.logging import get_logger
from broadcaster.model import Alert, Category, Receipt, ReceiptStatus, Severity
from broadcaster.model.system import system_alert
from broadcaster.pipeline.messages import alert_message
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)

FAILURE_NOTICE_QUIET_S = 600.0


def failure_alert(receipt: Receipt) -> Alert:
    return system_alert(
        tenant=receipt.tenant,
        identifier=f"sys-{receipt.tenant}-{receipt.dispatch_key}",
        topic=f"delivery|{receipt.channel}",
        event="配信失敗",
        category=Category.INFRA,
        severity=Severity.MODERATE,
        headline=f"{receipt.channel} への配信が失敗しました（{receipt.alert_id}）",
        description=receipt.error or "",
        instruction="コンソールで失敗理由を確認し、必要なら再配信してください。",
        parameters=(("channel", receipt.channel), ("alert", receipt.alert_id)),
    )


class LedgerStage:
    group = "ledger"

    def __init__(self, bus: Bus, ledger: Ledger) -> None:
        self.bus = bus
        self.ledger = ledger
        self._last_notice: dict[tuple[str, str], float] = {}

    async def handle(self, record: Record) -> Outcome:
        try:
            receipt = Receipt.model_validate_json(record.value)
        except ValidationError as e:
            return DeadLetter(f"not a Receipt: {str(e)[:500]}")
        try:
            if await self.ledger.complete_if_final(receipt.tenant, receipt.alert_id):
                log.info("alert_done", tenant=receipt.tenant, alert=receipt.alert_id)
        except Exception as e:
            return Retry(2.0, f"ledger: {e}")
        if receipt.status is ReceiptStatus.DEAD and not receipt.alert_id.startswith("sys-"):
            try:
                await self._notify(receipt)
            except Exception as e:
                # Nothing was marked sent: the retry raises the notice again (its identifier is
                # the dispatch's, so a notice recorded but not published is recorded once).
                log.error("delivery_failure_notice_failed", tenant=receipt.tenant, channel=receipt.channel, error=str(e))
                return Retry(2.0, f"failure notice: {e}")
        return Ack()

    async def _notify(self, receipt: Receipt) -> None:
        slot = (receipt.tenant, receipt.channel)
        if time.monotonic() - self._last_notice.get(slot, -1e9) < FAILURE_NOTICE_QUIET_S:
            return
        alert = failure_alert(receipt)
        await self.ledger.record_alert(alert, submitted_by="system:ledger")
        await self.bus.publish_many([alert_message(alert)])
        # The quiet period starts once the notice is recorded and on the bus, never before: a
        # failed write must leave the officers' notice to the retry, not silence it.
        self._last_notice[slot] = time.monotonic()
        log.warning("delivery_failure_notified", tenant=receipt.tenant, channel=receipt.channel)
