"""The stale-feed alarm: raised once, changed once per change, cleared once; a clock, no sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from broadcaster.bus import TopicSpec
from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.bus.topics import ALERTS
from broadcaster.model import KIND, Alert, MsgType, Status
from broadcaster.pipeline.feedwatch import StaleFeedAlarm
from broadcaster.store import migrate, reports
from broadcaster.store.feeds import FeedStore
from broadcaster.store.ledger import Ledger
from tests.fakes.clock import ManualClock

TENANTS = ["anamizu", "wajima"]


@dataclass
class Env:
    bus: EmbeddedBus
    ledger: Ledger
    store: FeedStore
    clock: ManualClock

    def alarm(self) -> StaleFeedAlarm:
        return StaleFeedAlarm(
            self.store,
            self.bus,
            self.ledger,
            tenants=TENANTS,
            label="気象庁防災情報XML",
            feeds=["regular", "extra"],
            stale_after=timedelta(minutes=10),
            clock=self.clock,
        )

    async def published(self) -> list[Alert]:
        return [Alert.model_validate_json(r.value) for r in await self.bus.messages(ALERTS)]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    bus = EmbeddedBus(tmp_path / "bus.sqlite3", partitions=2, poll_interval=0.05)
    await bus.start()
    await bus.ensure_topics([TopicSpec(ALERTS, 2)])
    ledger = Ledger.connect(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    await migrate.upgrade(ledger.db)
    await ledger.ensure_tenants([("anamizu", "穴水町"), ("wajima", "輪島市")])
    try:
        yield Env(bus, ledger, FeedStore(ledger.db, "jma"), ManualClock())
    finally:
        await ledger.close()
        await bus.close()


async def test_raised_once_updated_per_change_and_cleared_once(env: Env) -> None:
    store, clock = env.store, env.clock
    alarm = env.alarm()
    t0 = clock()
    await store.record_success("regular", t0)
    await store.record_success("extra", t0)
    assert await alarm.check() is None

    # regular fails from minute 1 on; nothing is said until it has been quiet for 10 minutes.
    for minute in range(1, 11):
        clock.advance(minutes=1)
        await store.record_failure("regular", clock(), "HTTP 503")
        if minute < 10:
            await store.record_success("extra", clock())
        assert await alarm.check() is None, minute
    clock.advance(seconds=30)
    await store.record_success("extra", clock())
    assert await alarm.check() is MsgType.ALERT
    # Not every minute: the same state says nothing more.
    for _ in range(5):
        clock.advance(minutes=1)
        await store.record_failure("regular", clock(), "HTTP 503")
        await store.record_success("extra", clock())
        assert await alarm.check() is None
    # extra goes quiet too (the set changes): one update.
    for _ in range(11):
        clock.advance(minutes=1)
        await store.record_failure("regular", clock(), "HTTP 503")
        await store.record_failure("extra", clock(), "timeout")
        await alarm.check()
    # regular recovers, extra still stale: one more update; then extra recovers: the cancel.
    clock.advance(minutes=1)
    await store.record_success("regular", clock())
    assert await alarm.check() is MsgType.UPDATE
    assert await alarm.check() is None
    clock.advance(minutes=1)
    await store.record_success("extra", clock())
    assert await alarm.check() is MsgType.CANCEL
    clock.advance(minutes=1)
    assert await alarm.check() is None

    alerts = await env.published()
    for tenant in TENANTS:
        mine = [a for a in alerts if a.tenant == tenant]
        assert [a.msg_type for a in mine] == [MsgType.ALERT, MsgType.UPDATE, MsgType.UPDATE, MsgType.CANCEL]
        assert len({a.event_key for a in mine}) == 1 and mine[0].event_key == f"system|{tenant}|feed|jma"
        assert all(a.status is Status.SYSTEM and a.primary.event_codes(KIND) == ("system",) for a in mine)
        assert [a.primary.param("feeds") for a in mine] == ["regular", "regular,extra", "extra", None]
        assert "regular" in (mine[0].primary.headline or "") and "10分" in (mine[0].primary.headline or "")
        assert "HTTP 503" in (mine[0].primary.description or "")
        # Each message names the one before it.
        for before, after in pairwise(mine):
            assert after.referenced_identifiers() == (before.identifier,)
        assert mine[-1].primary.headline == "気象庁防災情報XMLの取得が回復しました"
    # Recorded in the ledger for each tenant (the ledger re-drives what the bus loses).
    recorded = await reports.alerts(env.ledger, limit=50)
    assert sorted(a["tenant"] for a in recorded) == sorted(TENANTS * 4)


async def test_a_restart_neither_repeats_nor_forgets_the_alarm(env: Env) -> None:
    store, clock = env.store, env.clock
    await store.record_failure("regular", clock(), "connection refused")  # never succeeded
    await store.record_success("extra", clock())
    clock.advance(minutes=11)
    await store.record_success("extra", clock())
    assert await env.alarm().check() is MsgType.ALERT
    clock.advance(minutes=1)
    assert await env.alarm().check() is None, "a new process knows the alarm is raised"
    await store.record_success("regular", clock())
    assert await env.alarm().check() is MsgType.CANCEL
    assert [a.msg_type for a in await env.published()] == [MsgType.ALERT] * 2 + [MsgType.CANCEL] * 2


async def test_a_crash_before_the_state_is_kept_publishes_the_same_alert_again(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, clock = env.store, env.clock
    await store.record_success("regular", clock())
    await store.record_success("extra", clock())
    clock.advance(minutes=11)
    await store.record_success("extra", clock())

    async def crash(_: object) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(store, "set_alarm", crash)
    with pytest.raises(RuntimeError):
        await env.alarm().check()
    monkeypatch.undo()
    clock.advance(minutes=1)
    assert await env.alarm().check() is MsgType.ALERT
    alerts = await env.published()
    assert len(alerts) == 4
    assert len({(a.tenant, a.identifier) for a in alerts}) == 2, "same identifiers: the ledger keeps one"
    assert len(await reports.alerts(env.ledger, limit=50)) == 2


async def test_feeds_never_polled_raise_nothing(env: Env) -> None:
    env.clock.advance(hours=5)
    assert await env.alarm().check() is None
    assert await env.published() == []
