"""channel.<name>: one worker group per channel renders and sends its dispatches.

Each channel has its own topic and group, so a slow or broken provider delays only itself. Per
dispatch: skip it if already final (a redelivery); record it superseded if a newer message of the
same event makes it moot; record a cancel of something never sent here without sending it;
otherwise write the attempt, send with a time limit, write the result, and publish the receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

import structlog
from pydantic import ValidationError

from broadcaster.bus import Ack, Bus, DeadLetter, Outcome, Record, Retry
from broadcaster.bus.topics import backoff
from broadcaster.channels import ChannelProfile, Delivery, RecipientOutcome, SendResult, Warming
from broadcaster.errors import PermanentError, TransientError
from broadcaster.logging import get_logger
from broadcaster.metrics import METRICS
from broadcaster.model import (
    Alert,
    Dispatch,
    DispatchOrder,
    Explanation,
    Hops,
    MsgType,
    Receipt,
    ReceiptStatus,
    now,
)
from broadcaster.pipeline.adapters import AdapterPool
from broadcaster.pipeline.help import help_alert
from broadcaster.pipeline.hops import H_NORMALIZED, H_RECEIVED, H_ROUTED, read
from broadcaster.pipeline.messages import alert_message, order_message, receipt_message
from broadcaster.preference import endpoint_channel
from broadcaster.render.renderer import Renderer
from broadcaster.settings import Settings
from broadcaster.store import handoffs, reach
from broadcaster.store.audiences import Audiences
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)
T = TypeVar("T")

# Channels whose provider's acceptance of an address is the last word anyone gets (e-mail has no
# read receipt worth the name): accepted counts as reached (docs/coverage.md).
REACHED_WHEN_ACCEPTED = frozenset({"email"})


async def persist(what: str, fn: Callable[[], Awaitable[T]], *, max_wait: float = 600.0) -> T:
    """Write to the ledger, waiting out an outage instead of re-sending what was sent.

    After a send the result must be recorded; if the database is down, the worker holds here
    (back-pressure) and goes on when it is back, up to `max_wait` seconds.
    """
    delay = 0.2
    waited = 0.0
    while True:
        try:
            return await fn()
        except Exception as e:
            if waited >= max_wait:
                raise
            log.error("ledger_write_retry", what=what, error=str(e)[:300], waited=round(waited, 1))
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)


class ChannelStage:
    def __init__(
        self,
        channel: str,
        bus: Bus,
        ledger: Ledger,
        adapters: AdapterPool,
        renderer: Renderer,
        profile: ChannelProfile,
        settings: Settings,
        tenant_names: Mapping[str, str],
        personal: Collection[str] = (),
    ) -> None:
        self.channel = channel
        # The enabled channels that reach people one by one: where fallback may go next.
        self.personal = frozenset(personal)
        self.group = f"channel.{channel}"
        self.bus = bus
        self.ledger = ledger
        self.adapters = adapters
        self.renderer = renderer
        self.profile = profile
        self.settings = settings
        self.tenant_names = tenant_names
        self.tiers = settings.pipeline.retry_tiers_s
        # When the adapters last talked to their providers (a send or a warm-up): the idle timer
        # warms them again once this is older than pipeline.warm_interval_s.
        self.last_active = time.monotonic()
        # Set once the first warm-up is over, whatever became of it (Pipeline.ready waits for it).
        self.warmed = asyncio.Event()

    async def warm(self) -> int:
        """Open every live adapter's provider connections (broadcaster.channels.Warming), each
        town's at once, each bounded by pipeline.warm_timeout_s. A failure is logged and nothing
        more: the send meets the provider again with its own retries. Returns how many warmed."""
        limit = self.settings.pipeline.warm_timeout_s

        async def one(tenant: str) -> bool:
            try:
                if not self.adapters.mode(tenant, self.channel).live:
                    return False
                adapter = self.adapters.get(tenant, self.channel)
                if not isinstance(adapter, Warming):
                    return False
                await asyncio.wait_for(adapter.warm(), timeout=limit)
                return True
            except Exception as e:  # a provider down, a setting wrong: the send will say so
                log.warning("channel_warm_failed", tenant=tenant, channel=self.channel, error=f"{type(e).__name__}: {e}"[:300])
                return False

        self.last_active = time.monotonic()
        done = await asyncio.gather(*(one(t) for t in self.tenant_names))
        return sum(done)

    async def keep_warm(self, stop: asyncio.Event) -> None:
        """Warm at start, then again whenever no send for pipeline.warm_interval_s (0: never
        again), until `stop`. Runs beside the consumer, never in its way."""
        try:
            warmed = await self.warm()
        finally:
            self.warmed.set()
        log.info("channel_warmed", channel=self.channel, adapters=warmed)
        interval = self.settings.pipeline.warm_interval_s
        if interval <= 0:
            return
        while not stop.is_set():
            due = self.last_active + interval - time.monotonic()
            if due > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=due)
                continue
            await self.warm()

    async def handle(self, record: Record) -> Outcome:
        try:
            order = DispatchOrder.model_validate_json(record.value)
        except ValidationError as e:
            return DeadLetter(f"not a DispatchOrder: {str(e)[:500]}")
        d = order.dispatch
        structlog.contextvars.bind_contextvars(
            tenant=d.tenant, alert=d.alert_id, dispatch=d.key, channel=self.channel
        )
        try:
            return await self._handle(order, record)
        finally:
            structlog.contextvars.unbind_contextvars("tenant", "alert", "dispatch", "channel")

    async def _handle(self, order: DispatchOrder, record: Record) -> Outcome:
        d, alert = order.dispatch, order.alert
        hops = Hops(
            received=read(record.headers, H_RECEIVED) or alert.received,
            normalized=read(record.headers, H_NORMALIZED),
            routed=read(record.headers, H_ROUTED) or d.created,
        )
        try:
            earlier = await self.ledger.earlier_alerts(alert) if alert.msg_type is MsgType.CANCEL else None
            state, newer, attempted = await self.ledger.pre_send(d, alert, earlier)
            if state is not None and (state.final or state.state == "held"):
                log.info("dispatch_skipped", state=state.state)
                return Ack()
            if newer is not None:
                return await self._decided(d, hops, ReceiptStatus.SUPERSEDED, f"superseded by {newer}")
            if earlier is not None and not attempted:
                return await self._decided(
                    d, hops, ReceiptStatus.RECORDED, "the original was never sent here"
                )
        except Exception as e:  # the ledger is unreachable: nothing sent yet, try again later
            log.error("ledger_read_failed", error=str(e)[:300])
            return Retry(backoff(record.attempt, self.tiers), f"ledger: {e}")

        texts = await self.renderer.lane.run(
            self.renderer.render,
            alert,
            d,
            self.profile,
            tenant_name=self.tenant_names.get(d.tenant, d.tenant),
            public_url=self.settings.web.public_url,
            district_names_en=self._district_names_en(d.tenant),
        )
        started = now()
        attempt = await persist("begin_attempt", lambda: self.ledger.begin_attempt(d, started))
        hops = hops.model_copy(update={"send_started": started})
        cfg = self.settings.channel(d.tenant, self.channel)
        delivery = Delivery(dispatch=d, alert=alert, texts=texts, attempt=attempt)
        try:
            adapter = self.adapters.get(d.tenant, self.channel)
            self.last_active = time.monotonic()
            result: SendResult = await asyncio.wait_for(adapter.send(delivery), timeout=cfg.timeout_s)
        except (TransientError, TimeoutError) as e:
            retry_after = getattr(e, "retry_after", None)
            reason = str(e) or f"no answer within {cfg.timeout_s:g} s"
            if attempt >= cfg.max_attempts:
                await self._finish(
                    d, attempt, hops, ReceiptStatus.DEAD, error=f"gave up after {attempt} attempts: {reason}"
                )
                await self._not_reached(alert, d, getattr(e, "outcomes", ()), dead=True)
                return DeadLetter(f"retry budget spent: {reason}")
            await self._finish(d, attempt, hops, ReceiptStatus.FAILED, error=reason, retriable=True)
            return Retry(retry_after if retry_after is not None else backoff(attempt, self.tiers), reason)
        except PermanentError as e:
            await self._finish(d, attempt, hops, ReceiptStatus.DEAD, error=str(e), retriable=False)
            await self._not_reached(alert, d, getattr(e, "outcomes", ()), dead=True)
            return DeadLetter(f"permanent: {e}")
        except Exception as e:
            # An adapter bug: treat like a transient failure, bounded by the same budget.
            log.exception("adapter_crashed")
            reason = f"{type(e).__name__}: {e}"
            if attempt >= cfg.max_attempts:
                await self._finish(d, attempt, hops, ReceiptStatus.DEAD, error=reason)
                return DeadLetter(reason)
            await self._finish(d, attempt, hops, ReceiptStatus.FAILED, error=reason, retriable=True)
            return Retry(backoff(attempt, self.tiers), reason)
        handoff = result.handoff
        if handoff is not None:
            # Recorded before the dispatch counts as done: a hand-off the console never shows is
            # an area mail nobody sends.
            await persist("record_handoff", lambda: handoffs.record(self.ledger.db, d, alert.status.value, handoff))
        await self._finish(
            d,
            attempt,
            hops,
            ReceiptStatus.ACCEPTED,
            mode=result.mode,
            provider_ref=result.provider_ref,
            recipients=result.accepted,
        )
        if result.gone:
            await self._prune(d.tenant, result.gone)
        outcomes = list(result.outcomes) or self._accepted_outcomes(d, result)
        if outcomes or result.gone:
            await self._not_reached(alert, d, outcomes, gone=result.gone)
        if any(o.outcome == "help" for o in result.outcomes):
            await self._help(alert, d, [o.recipient for o in result.outcomes if o.outcome == "help"])
        return Ack()

    def _district_names_en(self, tenant: str) -> dict[str, str]:
        # The tenant's English district names (settings' name_en), for texts in other languages.
        cfg = self.settings.tenants.get(tenant)
        return {d.id: d.name_en for d in cfg.districts if d.name_en} if cfg else {}

    @staticmethod
    def _accepted_outcomes(d: Dispatch, result: SendResult) -> list[RecipientOutcome]:
        """Where the provider's acceptance is as far as anyone can see (e-mail), each recipient the
        provider accepted counts as reached for coverage (docs/coverage.md); an outbox write
        reached nobody."""
        if endpoint_channel(d.channel) not in REACHED_WHEN_ACCEPTED or result.mode != "live":
            return []
        gone = set(result.gone)
        return [RecipientOutcome(recipient=r, outcome="accepted", reached=True) for r in d.recipients if r not in gone]

    async def _help(self, alert: Alert, d: Dispatch, numbers: Sequence[str]) -> None:
        """Tell the duty officers at once who asked for help (broadcaster/pipeline/help.py)."""
        try:
            people = await Audiences(self.ledger.db).roster_ids(d.tenant, d.channel, numbers)
            notice = help_alert(d, people, alert.primary.headline if alert.info else None)
            await self.ledger.record_alert(notice, submitted_by="system:voice")
            await self.bus.publish_many([alert_message(notice)])
            log.warning("help_requested", people=len(numbers))
        except Exception as e:  # the outcome is recorded (status shows NEED HELP); say so loudly
            log.error("help_notice_failed", error=str(e)[:300])

    async def _not_reached(
        self,
        alert: Alert,
        d: Dispatch,
        outcomes: Sequence[RecipientOutcome],
        *,
        gone: Sequence[str] = (),
        dead: bool = False,
    ) -> None:
        """Record each recipient's outcome, and send those not reached on their next channel.

        Not reached: what the provider said (a call unanswered after its tries, an SMS a landline
        cannot take), a push subscription gone, or every recipient of a dispatch that ended dead
        (LINE unreachable). Only people with a channel preference have a next channel
        (broadcaster/preference.py); the fallback is a dispatch of its own, recorded before it is
        published like any other (docs/audiences.md, *Channel preference and fallback*).
        """
        reached = {o.recipient for o in outcomes if o.reached}
        missed = [o.recipient for o in outcomes if not o.reached] + list(gone)
        if dead:
            missed += [r for r in d.recipients if r not in reached and r not in missed]
        fallback: dict[str, str] = {}
        try:
            if missed and self.personal:
                fallback = await self._fall_back(alert, d, missed)
            all_outcomes = list(outcomes) + [
                RecipientOutcome(recipient=r, outcome="gone" if r in gone else "failed", reached=False)
                for r in missed
                if r not in {o.recipient for o in outcomes}
            ]
            await reach.record(self.ledger.db, d, all_outcomes, fallback, now())
        except Exception as e:  # the send is recorded; a lost outcome row must not undo it
            log.error("recipient_outcomes_failed", error=str(e)[:300])

    async def _fall_back(self, alert: Alert, d: Dispatch, missed: Sequence[str]) -> dict[str, str]:
        targets = await Audiences(self.ledger.db).fallback(d.tenant, d.channel, missed, self.personal)
        tried: dict[str, str] = {}
        created = now()
        dispatches: list[Dispatch] = []
        for channel, people in sorted(targets.items()):
            by_lang: dict[str, list[str]] = {}
            for _, address, language, h in people:
                by_lang.setdefault(language, []).append(address)
                tried[h] = channel
            for i, (lang, addresses) in enumerate(sorted(by_lang.items(), key=lambda x: (x[0] != "ja", x[0]))):
                dispatches.append(
                    Dispatch(
                        tenant=d.tenant,
                        alert_id=d.alert_id,
                        event_key=d.event_key,
                        channel=channel,
                        audience=f"fallback:{d.channel}:{d.audience}",
                        batch=d.batch * 16 + i,
                        batch_count=d.batch_count,
                        recipients=tuple(dict.fromkeys(addresses)),
                        template="auto",
                        languages=(lang,) if lang == "ja" else (lang, "ja"),
                        revision=d.revision,
                        priority=d.priority,
                        explanation=Explanation(
                            rule="fallback",
                            source=d.explanation.source,
                            reasons=(
                                f"{len(addresses)} resident(s) not reached on {d.channel}/{d.audience}; "
                                f"{channel} is next in their order",
                            ),
                        ),
                        created=created,
                        deadline=created + (d.deadline - d.created),
                    )
                )
        if not dispatches:
            return {}
        to_publish = await self.ledger.record_dispatches(alert, dispatches)
        await self.bus.publish_many([order_message(alert, x, {}) for x in to_publish])
        log.info("fallback_dispatched", to=sorted(targets), people=len(tried))
        return tried

    async def _prune(self, tenant: str, gone: tuple[str, ...]) -> None:
        """Take recipients the provider called gone (a 410 push subscription) off the audience."""
        audiences = Audiences(self.ledger.db)
        for address in gone:
            try:
                await audiences.remove_endpoint(tenant, self.channel, address)
            except Exception as e:  # the send is done; the next 410 for this address retries
                log.warning("recipient_prune_failed", error=str(e)[:300])
        log.info("recipients_pruned", count=len(gone))

    async def _decided(self, d: Dispatch, hops: Hops, status: ReceiptStatus, why: str) -> Outcome:
        await self._finish(d, 0, hops, status, error=why)
        return Ack()

    async def _finish(
        self,
        d: Dispatch,
        attempt: int,
        hops: Hops,
        status: ReceiptStatus,
        *,
        mode: str | None = None,
        provider_ref: str | None = None,
        recipients: int = 0,
        error: str | None = None,
        retriable: bool | None = None,
    ) -> None:
        finished: datetime = now()
        receipt = Receipt(
            dispatch_key=d.key,
            tenant=d.tenant,
            alert_id=d.alert_id,
            channel=d.channel,
            audience=d.audience,
            batch=d.batch,
            attempt=max(attempt, 1),
            status=status,
            mode=mode or ("live" if self.adapters.mode(d.tenant, self.channel).live else "outbox"),
            provider_ref=provider_ref,
            recipients=recipients,
            hops=hops.model_copy(update={"sent": finished}),
            error=error,
            retriable=retriable,
        )
        await persist("finish_attempt", lambda: self.ledger.finish_attempt(receipt))
        send_s = (
            (finished - hops.send_started).total_seconds() if hops.send_started is not None and attempt > 0 else None
        )
        METRICS.record_attempt(
            d.tenant,
            d.channel,
            status.value,
            receipt.mode,
            receipt.latency_ms / 1000 if receipt.latency_ms is not None else None,
            send_s,
        )
        log.info(
            "dispatch_" + status.value,
            attempt=receipt.attempt,
            mode=receipt.mode,
            latency_ms=round(receipt.latency_ms, 1) if receipt.latency_ms is not None else None,
            error=error,
        )
        try:
            await self.bus.publish_many([receipt_message(receipt)])
        except Exception as e:  # the ledger has it; the receipts topic only feeds roll-ups
            log.warning("receipt_publish_failed", error=str(e)[:300])
