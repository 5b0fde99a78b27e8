"""The circular channel: our own system, plugged in where the pipeline expects an adapter.

The channel worker for ``circular`` is the ordinary ChannelStage (skip what is final, supersede,
follow cancels, write the attempt, send with a time limit, write the receipt). What it sends to is
the board below instead of an outside provider: ``send`` records the alert's circular and each
recipient's delivery in the ledger, idempotently by the dispatch (a redelivered dispatch finds
everything recorded and sends only what is still pending), has the notifier send each person
their own link on their own channels, and puts the circular's reminder job on the scheduler.

This is core code (it knows the ledger), not an adapter: adapters/ stays free of the pipeline.
Without a link key the board cannot give anyone a link, and the channel runs in outbox mode like
any channel without credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import ClassVar, Self

from broadcaster.audience import AudienceName
from broadcaster.channels import AdapterEnv, Addressing, Delivery, SendResult
from broadcaster.circulars import ids, steps
from broadcaster.circulars import store as cs
from broadcaster.circulars.notifier import Notifier, Sent
from broadcaster.circulars.records import Notice, Target
from broadcaster.circulars.service import Circulars
from broadcaster.errors import ConfigError
from broadcaster.logging import get_logger
from broadcaster.model import KIND, Alert, MsgType
from broadcaster.settings import ChannelSettings, Settings
from broadcaster.store import routing

log = get_logger(__name__)
CHANNEL = "circular"
# Share of the channel's send time limit (timeout_s) the notices may take inside a dispatch.
NOTICE_BUDGET = 0.6


def kind_of(alert: Alert) -> str:
    kinds = alert.primary.event_codes(KIND) if alert.info else ()
    return kinds[0] if kinds else "emergency"


def title_of(alert: Alert) -> str:
    info = alert.primary if alert.info else None
    if info is None:
        return alert.identifier
    return (info.headline or info.event)[:200]


def leader_dues(svc: Circulars, kind: str, at: datetime, rule_deputy_due: datetime | None) -> dict[str, datetime | None]:
    timing = svc.settings.circulars.timing_for(kind, emergency=True)

    def after(minutes: float | None) -> datetime | None:
        return None if minutes is None else at + timedelta(minutes=minutes)

    # Where the rules escalate this district's alert to the deputies, the chain's deputy step is
    # that very time: one escalation, declared once (docs/circulars.md, "One chain").
    deputy = rule_deputy_due if rule_deputy_due is not None else after(timing.deputy_after_min)
    return {"remind": after(timing.remind_after_min), "deputy": deputy, "officers": after(timing.officers_after_min)}


class CircularBoard:
    name: ClassVar[str] = CHANNEL
    addressing: ClassVar[Addressing] = "recipients"
    max_text_length: ClassVar[int | None] = None
    max_recipients_per_request: ClassVar[int | None] = 100
    required_credentials: ClassVar[tuple[str, ...]] = ()

    def __init__(self, svc: Circulars) -> None:
        self.svc = svc
        self.notifier = Notifier(svc)

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        raise ConfigError("the circular board is part of the pipeline, made by it, not an installable adapter")

    async def close(self) -> None:
        return None

    async def send(self, delivery: Delivery) -> SendResult:
        if delivery.alert.msg_type is MsgType.CANCEL:
            return await self._cancel(delivery)
        return await self._circulate(delivery)

    async def _rule_deputy_dues(self, tenant: str, alert_id: str) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        for row in await routing.scheduled_of(self.svc.db, tenant, alert_id):
            if row["purpose"] == "escalation" and str(row["audience"]).startswith("deputies:") and row["scope"]:
                out[row["scope"]] = min(row["due"], out.get(row["scope"], row["due"]))
        return out

    async def _circulate(self, delivery: Delivery) -> SendResult:
        svc, d, alert = self.svc, delivery.dispatch, delivery.alert
        at = svc.clock()
        kind = kind_of(alert)
        audience = AudienceName.parse(d.audience)
        role = "deputy" if audience.base == "deputies" else "leader"
        channels = svc.settings.circulars.notify_channels
        targets = await cs.resolve(svc.db, d.tenant, d.recipients, role, audience.scope, channels)
        officers_step = svc.settings.circulars.timing_for(kind, emergency=True).officers_after_min is not None
        if role == "leader":
            rule_dues = await self._rule_deputy_dues(d.tenant, alert.identifier)
            targets = [
                _with_dues(t, leader_dues(svc, kind, at, rule_dues.get(t.district or "")), at, officers_step)
                for t in targets
            ]
        texts = {t.language: {"title": t.title, "body": t.body, "html": t.html} for t in delivery.texts}
        ja = delivery.text("ja")
        new = cs.NewCircular(
            id=ids.emergency_circular(d.tenant, alert.identifier),
            tenant=d.tenant,
            origin="emergency",
            kind=kind,
            status=alert.status.value,
            priority=d.priority.value,
            title=title_of(alert),
            body=ja.body,
            form=svc.settings.circulars.forms.get(kind, "none"),
            created_by=f"rule:{d.explanation.rule}"[:200],
            alert_id=alert.identifier,
            event_key=alert.event_key,
            texts=texts,
        )
        delivered = await cs.record_emergency(svc.db, new, targets, d.key, at)
        sent = await self._notify(d.tenant, await steps.notices_for(svc.db, delivered, "notify"))
        if officers_step:
            await self._unreachable(new.id)
        await svc.schedule_tick(d.tenant, new.id)
        missing = len(d.recipients) - len(targets)
        detail = f"{len(targets)} people, notices: {sent.sent} sent, {sent.failed} to retry, {sent.dead} failed"
        if missing:
            detail += f"; {missing} addresses no longer registered"
        log.info("circular_recorded", circular=new.id, people=len(targets), role=role, notices=sent.sent)
        return SendResult(provider_ref=f"circular:{new.id}", mode="live", accepted=len(targets), detail=detail)

    async def _notify(self, tenant: str, notices: Sequence[Notice]) -> Sent:
        """Send the notices now, within part of the channel's time limit. What does not make it
        stays pending and goes with the circular's job at once (scheduled right after), so one
        hung provider neither fails the dispatch nor delays the recording of the others."""
        budget = self.svc.settings.channel(tenant, CHANNEL).timeout_s * NOTICE_BUDGET
        try:
            return await asyncio.wait_for(self.notifier.send(notices), budget)
        except TimeoutError:
            log.warning("circular_notices_deferred", notices=len(notices), budget_s=round(budget, 1))
            return Sent()

    async def _unreachable(self, circular_id: str) -> None:
        for did in await steps.unreachable(self.svc.db, circular_id):
            await steps.expedite_officers(self.svc.db, did, self.svc.clock())

    async def _cancel(self, delivery: Delivery) -> SendResult:
        """A Cancel: the circulars of what it cancels close, and their recipients hear of it."""
        svc, d, alert = self.svc, delivery.dispatch, delivery.alert
        at = svc.clock()
        closed = await cs.cancel_event(svc.db, d.tenant, alert.referenced_identifiers(), alert.event_key, at)
        wanted = set(d.recipients)
        addressed = len(wanted)
        told = 0
        for cid in closed:
            # One notice per change per leader: a leader who had the original and its update's
            # circular hears of the cancel once, with the circular they saw last (docs/circulars.md).
            people = [x for x in await cs.deliveries(svc.db, cid) if x.recipient in wanted]
            wanted -= {p.recipient for p in people}
            targets = {
                t.recipient: t
                for t in await cs.resolve(svc.db, d.tenant, [p.recipient for p in people], "leader", None, svc.settings.circulars.notify_channels)
            }
            channels_of = {p.id: targets[p.recipient].channels for p in people if p.recipient in targets}
            await cs.add_notices(svc.db, list(channels_of), "cancel", channels_of, at)
            told += (await self._notify(d.tenant, await steps.notices_for(svc.db, list(channels_of), "cancel"))).sent
            await svc.schedule_tick(d.tenant, cid)
        return SendResult(provider_ref=f"circular-cancel:{len(closed)}", mode="live", accepted=addressed, detail=f"{len(closed)} circulars closed, {told} notices sent")


def _with_dues(t: Target, dues: dict[str, datetime | None], at: datetime, officers_step: bool) -> Target:
    if not t.channels and officers_step:
        # Nobody can tell this leader: the duty officers hear of it at once, with the phone number.
        dues = {**dues, "officers": at}
    return Target(t.recipient, t.subscriber_id, t.role, t.district, t.name, t.title, t.channels, dues)


def describe_mode(settings: Settings, tenant: str) -> str:
    """For `broadcaster check`: why the circular channel is live or not."""
    if settings.circulars.link_key is None:
        return "outbox: circulars.link_key is not set (no personal link can be signed)"
    if settings.channel(tenant, CHANNEL).mode == "outbox":
        return "outbox mode set in settings"
    return "live: the e-circular board"
