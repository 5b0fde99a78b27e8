"""The stale-feed alarm: a polled source that stops answering is itself an alert.

When a feed has not been read successfully for `stale_after`, every tenant's officers get a
System alert (rules route kind `system` to them): once when feeds go stale, an Update when the
set of stale feeds changes, a Cancel when all have recovered. What was last said is kept in the
database (feed_alarms), so a restart neither repeats nor forgets the alarm. Identifiers are
derived from the stale episode, so publishing again after a crash yields the same alert, which
the ledger and the dispatch keys then keep to one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from broadcaster.bus import Bus
from broadcaster.logging import get_logger
from broadcaster.model import JST, Alert, Category, MsgType, ResponseType, Severity, Urgency, cap_datetime
from broadcaster.model.system import system_alert, system_sender
from broadcaster.pipeline.messages import alert_message
from broadcaster.store.feeds import AlarmState, FeedFreshness, FeedStore
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)


def _jst(at: datetime | None) -> str:
    return "なし" if at is None else f"{at.astimezone(JST):%Y-%m-%d %H:%M:%S} JST"


def alarm_identifier(tenant: str, source: str, episode: str, seq: int) -> str:
    return f"sys-feed-{tenant}-{source}-{episode}-{seq}"


def feed_alarm_alert(
    tenant: str,
    *,
    source: str,
    label: str,
    msg_type: MsgType,
    episode: str,
    seq: int,
    sent: datetime,
    stale: Sequence[FeedFreshness],
    previous: AlarmState | None,
) -> Alert:
    references: tuple[str, ...] = ()
    if previous is not None and msg_type is not MsgType.ALERT:
        prev_id = alarm_identifier(tenant, source, previous.episode, previous.seq)
        references = (f"{system_sender(tenant)},{prev_id},{cap_datetime(previous.sent)}",)
    identifier = alarm_identifier(tenant, source, episode, seq)
    feeds = [f.feed for f in stale]
    if msg_type is MsgType.CANCEL:
        return system_alert(
            tenant=tenant,
            identifier=identifier,
            topic=f"feed|{source}",
            event="情報取得回復",
            category=Category.INFRA,
            severity=Severity.MINOR,
            urgency=Urgency.PAST,
            response_type=(ResponseType.ALL_CLEAR,),
            headline=f"{label}の取得が回復しました",
            description=f"{label}のすべてのフィードを再び取得できています。",
            parameters=(("source", source),),
            msg_type=msg_type,
            references=references,
            at=sent,
        )
    minutes = int(max((f.age_s or 0.0) for f in stale) // 60)
    lines = [
        f"{f.feed}: 最終成功 {_jst(f.last_success)}、連続失敗 {f.failures} 回"
        + (f"、最後のエラー: {f.last_error[:200]}" if f.last_error else "")
        for f in stale
    ]
    return system_alert(
        tenant=tenant,
        identifier=identifier,
        topic=f"feed|{source}",
        event="情報取得停止",
        category=Category.INFRA,
        # Severe: while the feed is stale, warnings for the town may not be arriving at all.
        severity=Severity.SEVERE,
        headline=f"{label}を{minutes}分以上取得できていません（{', '.join(feeds)}）",
        description="\n".join(lines),
        instruction=(
            "警報や地震・津波の情報が届いていない可能性があります。気象庁のホームページなどで直接確認し、"
            "回線と `broadcaster status` を確認してください。"
        ),
        parameters=(("source", source), ("feeds", ",".join(feeds))),
        msg_type=msg_type,
        references=references,
        at=sent,
    )


class StaleFeedAlarm:
    def __init__(
        self,
        store: FeedStore,
        bus: Bus,
        ledger: Ledger,
        *,
        tenants: Sequence[str],
        label: str,
        feeds: Sequence[str],
        stale_after: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.bus = bus
        self.ledger = ledger
        self.tenants = list(tenants)
        self.label = label
        self.feeds = list(feeds)
        self.stale_after = stale_after
        self._clock = clock

    async def check(self) -> MsgType | None:
        """Compare the feeds' freshness with what the officers were last told; tell them of a change."""
        at = self._clock()
        fresh = await self.store.freshness(self.feeds, at, self.stale_after)
        stale = [f for f in fresh if f.stale]
        names = tuple(f.feed for f in stale)
        state = await self.store.alarm()
        if names == (state.feeds if state else ()):
            return None
        if state is None:
            # The episode is named after when the stalest feed last worked: the same after a
            # restart, different for the next episode (which needs a success in between).
            since = min(f.since for f in stale if f.since is not None)
            episode, seq, msg_type = f"{since.astimezone(UTC):%Y%m%dT%H%M%SZ}", 0, MsgType.ALERT
        else:
            episode, seq = state.episode, state.seq + 1
            msg_type = MsgType.UPDATE if stale else MsgType.CANCEL
        sent = at.replace(microsecond=0)
        await self._publish(
            [
                feed_alarm_alert(
                    tenant,
                    source=self.store.source,
                    label=self.label,
                    msg_type=msg_type,
                    episode=episode,
                    seq=seq,
                    sent=sent,
                    stale=stale,
                    previous=state,
                )
                for tenant in self.tenants
            ]
        )
        await self.store.set_alarm(None if not stale else AlarmState(episode, seq, names, sent))
        log.warning(
            "feed_alarm_sent" if stale else "feed_alarm_cleared",
            source=self.store.source,
            msg_type=msg_type.value,
            stale=list(names),
            tenants=len(self.tenants),
        )
        return msg_type

    async def _publish(self, alerts: Sequence[Alert]) -> None:
        # Recorded before publishing, as every alert is (the ledger re-drives what the bus loses).
        for alert in alerts:
            await self.ledger.record_alert(alert, submitted_by="system:feedwatch")
        if alerts:
            await self.bus.publish_many([alert_message(a) for a in alerts])
