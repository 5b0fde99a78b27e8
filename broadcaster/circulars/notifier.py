"""Sending notices: each person's link on their own channels, through the channel adapters.

The notifier uses the same adapters as the channel workers (the runtime's AdapterPool), handing
each one an ordinary Delivery: one dispatch-shaped envelope per notice, whose idempotency key is
derived from the notice's key (delivery, purpose, channel). So LINE's retry key drops a repeat
after a crash, e-mail repeats carry the same Message-ID, and a channel without credentials writes
to its outbox as always. Adapters learn nothing of circulars: they send a text with a URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from broadcaster.channels import Delivery
from broadcaster.circulars import notice, steps
from broadcaster.circulars import store as cs
from broadcaster.circulars.records import Circular, CircularState, Notice, NoticeState
from broadcaster.circulars.service import Circulars
from broadcaster.errors import PermanentError, TransientError
from broadcaster.logging import get_logger, hash_id
from broadcaster.model import (
    KIND,
    Alert,
    Category,
    Certainty,
    Dispatch,
    Explanation,
    Info,
    Kind,
    MsgType,
    NamedValue,
    Priority,
    Severity,
    Status,
    Urgency,
)

log = get_logger(__name__)
CONCURRENCY = 8


@dataclass
class Sent:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    dead_deliveries: set[str] = field(default_factory=set)


def routine_alert(c: Circular) -> Alert:
    """The envelope adapters expect, for a circular no alert stands behind (an officer's notice)."""
    at = c.released_at or c.created
    return Alert(
        identifier=c.id,
        sender=f"{c.tenant}@broadcaster",
        sent=at,
        status=Status(c.status),
        msg_type=MsgType.ALERT,
        info=(
            Info(
                category=(Category.OTHER,),
                event="回覧",
                urgency=Urgency.EXPECTED,
                severity=Severity.MINOR,
                certainty=Certainty.OBSERVED,
                event_code=(NamedValue(value_name=KIND, value=Kind.NOTICE.value),),
                headline=c.title[:200],
            ),
        ),
        tenant=c.tenant,
        event_key=f"circular|{c.tenant}|{c.id}",
        origin="broadcaster",
        received=at,
    )


class Notifier:
    def __init__(self, svc: Circulars) -> None:
        self.svc = svc
        self._alerts: dict[tuple[str, str], Alert] = {}

    async def _alert(self, c: Circular) -> Alert:
        key = (c.tenant, c.id)
        if key not in self._alerts:
            found = await self.svc.ledger.alert(c.tenant, c.alert_id) if c.alert_id else None
            self._alerts[key] = found or routine_alert(c)
        return self._alerts[key]

    async def send(self, notices: Sequence[Notice]) -> Sent:
        report = Sent()
        if not notices:
            return report
        gate = asyncio.Semaphore(CONCURRENCY)
        circulars: dict[str, Circular | None] = {}
        for n in notices:
            if n.circular_id not in circulars:
                circulars[n.circular_id] = await cs.circular(self.svc.db, n.circular_id)

        async def one(n: Notice) -> None:
            async with gate:
                state = await self._one(n, circulars.get(n.circular_id))
            if state == NoticeState.SENT:
                report.sent += 1
            elif state == NoticeState.FAILED:
                report.failed += 1
            elif state == NoticeState.DEAD:
                report.dead += 1
                report.dead_deliveries.add(n.delivery_id)

        await asyncio.gather(*(one(n) for n in notices))
        return report

    async def _one(self, n: Notice, c: Circular | None) -> NoticeState:
        at = self.svc.clock()
        db = self.svc.db
        d = await cs.delivery(db, n.delivery_id)
        if c is None or d is None:
            await steps.finish_notice(db, n.key, NoticeState.DEAD, at, attempts=n.attempts, error="the circular is gone")
            return NoticeState.DEAD
        if c.state == CircularState.CANCELLED and n.purpose != "cancel":
            await steps.finish_notice(db, n.key, NoticeState.DROPPED, at, attempts=n.attempts, error="the circular was cancelled")
            return NoticeState.DROPPED
        addresses = await cs.addresses_of(db, d.subscriber_id, n.channel) if d.subscriber_id is not None else []
        if not addresses:
            await steps.finish_notice(db, n.key, NoticeState.DEAD, at, attempts=n.attempts, error=f"no {n.channel} address any more")
            return NoticeState.DEAD
        about = notice.About(
            tenant_name=self.svc.tenant_name(c.tenant),
            title=c.title,
            status=c.status,
            form=c.form,
            role=d.role,
            district_name=self.svc.district_name(c.tenant, d.district),
        )
        text = notice.compose(n.channel, n.purpose, about, self.svc.link(d.id, d.link_version))
        alert = await self._alert(c)
        try:
            priority = Priority(c.priority)
        except ValueError:
            priority = Priority.NORMAL
        dispatch = Dispatch(
            tenant=c.tenant,
            alert_id=alert.identifier,
            event_key=alert.event_key,
            channel=n.channel,
            # One person, one purpose: the audience names the notice, so the dispatch key (and
            # with it LINE's retry key and the e-mail's Message-ID) is the notice's own.
            audience=f"circular:{d.id}:{n.purpose}",
            batch=0,
            batch_count=1,
            recipients=tuple(addresses),
            template="circular_notice",
            languages=("ja",),
            priority=priority,
            explanation=Explanation(rule="circular-notice", reasons=(f"{n.purpose} of circular {c.id}",)),
            created=at,
            deadline=at + timedelta(minutes=15),
        )
        attempt = await steps.begin_notice(db, n.key)
        cfg = self.svc.settings.channel(c.tenant, n.channel)
        try:
            adapter = self.svc.adapters.get(c.tenant, n.channel)
            result = await asyncio.wait_for(
                adapter.send(Delivery(dispatch=dispatch, alert=alert, texts=(text,), attempt=attempt)), cfg.timeout_s
            )
        except PermanentError as e:
            return await self._give_up(n, attempt, str(e))
        except (TransientError, TimeoutError) as e:
            return await self._failed(n, attempt, str(e) or f"no answer within {cfg.timeout_s:g} s")
        except Exception as e:  # an adapter's bug must not stop the other notices
            log.exception("circular_notice_crashed", channel=n.channel)
            return await self._failed(n, attempt, f"{type(e).__name__}: {e}")
        await steps.finish_notice(
            db, n.key, NoticeState.SENT, self.svc.clock(), attempts=attempt, mode=result.mode, provider_ref=result.provider_ref
        )
        log.info("circular_notice_sent", circular=c.id, purpose=n.purpose, channel=n.channel, to=hash_id(d.recipient), mode=result.mode)
        return NoticeState.SENT

    async def _failed(self, n: Notice, attempt: int, error: str) -> NoticeState:
        if attempt >= self.svc.settings.circulars.notice_max_attempts:
            return await self._give_up(n, attempt, f"gave up after {attempt} tries: {error}")
        at: datetime = self.svc.clock()
        await steps.finish_notice(self.svc.db, n.key, NoticeState.FAILED, at, attempts=attempt, error=error[:500])
        log.warning("circular_notice_failed", circular=n.circular_id, channel=n.channel, attempt=attempt, error=error[:200])
        return NoticeState.FAILED

    async def _give_up(self, n: Notice, attempt: int, error: str) -> NoticeState:
        await steps.finish_notice(self.svc.db, n.key, NoticeState.DEAD, self.svc.clock(), attempts=attempt, error=error[:500])
        log.error("circular_notice_dead", circular=n.circular_id, channel=n.channel, error=error[:200])
        return NoticeState.DEAD
