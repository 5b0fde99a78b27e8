"""Circulars on both databases: idempotent recording, release by the job, the chain, notices.

Time is a ManualClock: the chain decides from the ledger at `clock()`, so moving the clock and
running the job is what minutes of waiting would do. Channels without credentials write to their
outbox, which is where the notices are counted.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Self

import pytest

from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.channels import AdapterEnv, Delivery, RenderedText, SendResult
from broadcaster.circulars import report, routine, steps
from broadcaster.circulars import store as cs
from broadcaster.circulars.board import CircularBoard
from broadcaster.circulars.chain import Chain
from broadcaster.circulars.forms import Answer
from broadcaster.circulars.service import Circulars, job_id
from broadcaster.errors import TransientError
from broadcaster.model import KIND, Alert, Dispatch, Explanation, Info, MsgType, NamedValue, Priority, Status
from broadcaster.pipeline.adapters import AdapterPool
from broadcaster.scheduler import SchedulerService
from broadcaster.settings import ChannelSettings
from broadcaster.store import migrate, reports
from broadcaster.store.audiences import Audiences
from broadcaster.store.ledger import Ledger
from tests.circular_helpers import add_people, circular_settings
from tests.conftest import POSTGRES_ADMIN_URL
from tests.fakes.clock import ManualClock


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}"
        return
    # A database of the test's own (as tests/conftest.py's fresh_postgres makes), so that
    # suites running side by side never share a schema.
    import uuid

    import asyncpg

    name = f"broadcaster_{uuid.uuid4().hex[:10]}"
    dsn = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@dataclass
class Env:
    svc: Circulars
    clock: ManualClock
    tmp: Path

    @property
    def db(self) -> Any:
        return self.svc.db

    def outbox(self, channel: str) -> list[dict[str, Any]]:
        path = self.tmp / "outbox" / "anamizu" / f"{channel}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
async def env(tmp_path: Path, db_url: str) -> AsyncIterator[Env]:
    settings = circular_settings(tmp_path, db_url=db_url)
    ledger = Ledger.connect(db_url)
    await migrate.upgrade(ledger.db)
    await ledger.ensure_tenants((t.id, t.name) for t in settings.tenants.values())
    await add_people(Audiences(ledger.db))
    bus = EmbeddedBus(tmp_path / "bus.sqlite3", partitions=2, poll_interval=0.05)
    await bus.start()
    scheduler = SchedulerService(ledger.db)
    clock = ManualClock()
    pool = AdapterPool(settings)
    svc = Circulars(settings, ledger, bus, pool, scheduler, clock=clock)
    try:
        yield Env(svc, clock, tmp_path)
    finally:
        await pool.close()
        await scheduler.stop()
        await bus.close()
        await ledger.close()


def evacuation(identifier: str = "m-anamizu-evac-1", msg_type: MsgType = MsgType.ALERT, refs: tuple[str, ...] = ()) -> Alert:
    at = ManualClock().at
    return Alert(
        identifier=identifier,
        sender="anamizu@town",
        sent=at,
        status="Actual",
        msg_type=msg_type,
        references=refs,
        info=(
            Info(
                category=("Safety",),
                event="避難指示",
                urgency="Immediate",
                severity="Severe",
                certainty="Likely",
                headline="川島地区に避難指示",
                event_code=(NamedValue(value_name=KIND, value="evacuation"),),
            ),
        ),
        tenant="anamizu",
        event_key="anamizu|evac",
        origin="manual",
        received=at,
    )


def delivery_of(alert: Alert, audience: str, recipients: tuple[str, ...]) -> Delivery:
    at = alert.sent
    d = Dispatch(
        tenant="anamizu",
        alert_id=alert.identifier,
        event_key=alert.event_key,
        channel="circular",
        audience=audience,
        batch=0,
        batch_count=1,
        recipients=recipients,
        template="auto",
        priority=Priority.FLASH,
        explanation=Explanation(rule="test"),
        created=at,
        deadline=at + timedelta(minutes=1),
    )
    text = RenderedText(language="ja", kind="evacuation", title="【穴水町】回覧：避難指示", body="避難指示です。", html="<p>避難指示です。</p>")
    return Delivery(dispatch=d, alert=alert, texts=(text,))


async def test_a_redelivered_dispatch_records_and_sends_nothing_twice(env: Env) -> None:
    board = CircularBoard(env.svc)
    alert = evacuation()
    await env.svc.ledger.record_alert(alert)
    first = delivery_of(alert, "leaders:kawashima", ("L-yamada", "L-kawai", "nobody"))
    result = await board.send(first)
    assert (result.mode, result.accepted) == ("live", 1), "輪島市's leader and an unknown address are nobody here"
    again = await board.send(first.model_copy(update={"attempt": 2}))
    assert again.accepted == 1
    (c,) = await cs.circulars_of(env.db, "anamizu")
    assert [d.name for d in await cs.deliveries(env.db, c.id)] == ["山田太郎"]
    assert len(env.outbox("line")) == 1 and len(env.outbox("email")) == 1, "each notice once"
    line = env.outbox("line")[0]
    assert line["texts"][0]["body"].startswith("【穴水町】回覧：川島地区に避難指示")
    assert await cs.circulars_of(env.db, "wajima") == []


async def test_a_routine_circular_is_released_by_its_job_at_its_time(env: Env) -> None:
    svc, clock = env.svc, env.clock
    spec = routine.RoutineSpec(
        title="ごみ収集日の変更", body="年末年始の収集日が変わります。", districts=("omachi",), form="yesno",
        question="回覧を地区に回しましたか", release_at=clock.at + timedelta(hours=1),
    )
    cid = await routine.create(svc, "anamizu", spec, [("予定表.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100)], "officer:anamizu/tanaka")
    (job,) = [j for j in svc.scheduler.jobs() if j["id"] == job_id(cid)]
    assert job["next_run"] == spec.release_at
    chain = Chain(svc)
    await chain.run("anamizu", cid)
    assert (await cs.circular(env.db, cid)).state == "scheduled"  # type: ignore[union-attr]
    clock.advance(hours=1)
    await chain.run("anamizu", cid)
    c = await cs.circular(env.db, cid)
    assert c is not None and c.state == "released"
    people = await cs.deliveries(env.db, cid)
    assert [(d.name, d.role, d.district) for d in people] == [("鈴木花子", "leader", "omachi")]
    assert len(env.outbox("line")) == 1 and env.outbox("email") == [], "鈴木 has LINE only"
    (job,) = [j for j in svc.scheduler.jobs() if j["id"] == job_id(cid)]
    assert job["next_run"] == clock.at + timedelta(days=1), "routine: a reminder the next day"
    files = await cs.attachments(env.db, cid)
    assert [(f.filename, f.content_type) for f in files] == [("予定表.png", "image/png")]


async def test_confirming_stops_the_chain_and_a_deputy_may_confirm_for_the_district(env: Env) -> None:
    svc, clock = env.svc, env.clock
    board = CircularBoard(svc)
    alert = evacuation()
    await svc.ledger.record_alert(alert)
    await board.send(delivery_of(alert, "leaders:kawashima", ("L-yamada",)))
    await board.send(delivery_of(alert, "leaders:omachi", ("L-suzuki",)))
    (c,) = await cs.circulars_of(env.db, "anamizu")
    people = {d.name: d for d in await cs.deliveries(env.db, c.id)}
    (job,) = [j for j in svc.scheduler.jobs() if j["id"] == job_id(c.id)]
    assert job["next_run"] == people["山田太郎"].remind_due == clock.at + timedelta(minutes=5)
    assert await cs.confirm(env.db, people["山田太郎"].id, clock.at)
    assert not await cs.confirm(env.db, people["山田太郎"].id, clock.at), "a double tap is one confirmation"
    clock.advance(minutes=16)
    chain = Chain(svc)
    await chain.run("anamizu", c.id)
    after = {d.name: d for d in await cs.deliveries(env.db, c.id)}
    assert after["山田太郎"].reminded_at is None and after["山田太郎"].deputy_at is None
    assert after["鈴木花子"].reminded_at is not None and after["鈴木花子"].deputy_at is not None
    sato = after["佐藤次郎"]
    assert (sato.role, sato.district) == ("deputy", "omachi")
    assert "伊藤三郎" not in after, "川島 confirmed: no deputy called there"
    assert await cs.confirm(env.db, sato.id, clock.at)
    clock.advance(minutes=30)
    await chain.run("anamizu", c.id)
    final = {d.name: d for d in await cs.deliveries(env.db, c.id)}
    assert final["鈴木花子"].officers_at is None, "the deputy confirmed for 大町: no officers"
    assert [j for j in svc.scheduler.jobs() if j["id"] == job_id(c.id)] == [], "nothing left to do"


async def test_a_leader_nobody_can_reach_goes_to_the_officers_at_once(env: Env) -> None:
    svc = env.svc
    await svc.audiences.add(
        "anamizu", kind="leader", name="電話だけの区長", districts=["kawashima"], external_ref="L-phone",
        endpoints={"circular": "L-phone", "phone": "0768529999"},
    )
    alert = evacuation()
    await svc.ledger.record_alert(alert)
    await CircularBoard(svc).send(delivery_of(alert, "leaders:kawashima", ("L-phone",)))
    (c,) = await cs.circulars_of(env.db, "anamizu")
    (d,) = await cs.deliveries(env.db, c.id)
    assert d.officers_due == env.clock.at
    await Chain(svc).run("anamizu", c.id)
    found = [a for a in await reports.alerts(svc.ledger, tenant="anamizu") if a["identifier"].startswith("sys-circ-")]
    assert len(found) == 1
    system = await svc.ledger.alert("anamizu", found[0]["identifier"])
    assert system is not None and system.status.value == "System"
    assert "0768529999" in (system.primary.description or "")
    summary = await report.summary(env.db, svc.settings, c)
    assert [(x.name, phones) for x, phones in summary.escalated] == [("電話だけの区長", ["0768529999"])]


async def test_a_cancel_closes_the_circular_and_tells_who_had_it(env: Env) -> None:
    svc = env.svc
    board = CircularBoard(svc)
    original = evacuation()
    await svc.ledger.record_alert(original)
    await board.send(delivery_of(original, "leaders:kawashima", ("L-yamada",)))
    cancel = evacuation("m-anamizu-evac-2", MsgType.CANCEL, (original.reference_key,))
    await board.send(delivery_of(cancel, "leaders:kawashima", ("L-yamada",)))
    (c,) = await cs.circulars_of(env.db, "anamizu")
    assert c.state == "cancelled"
    bodies = [r["texts"][0]["body"] for r in env.outbox("line")]
    assert len(bodies) == 2 and bodies[1].startswith("【穴水町】回覧の取消：")
    env.clock.advance(minutes=40)
    await Chain(svc).run("anamizu", c.id)
    (d,) = await cs.deliveries(env.db, c.id)
    assert d.reminded_at is None and d.officers_at is None, "a cancelled circular asks nothing more"


async def test_a_cancel_after_an_update_tells_each_leader_once(env: Env) -> None:
    """The update's circular supersedes the original's; the cancel closes both, and the leader who
    had both hears of the cancel once (one notice per change per leader, docs/circulars.md)."""
    svc = env.svc
    board = CircularBoard(svc)
    original = evacuation()
    await svc.ledger.record_alert(original)
    await board.send(delivery_of(original, "leaders:kawashima", ("L-yamada",)))
    update = evacuation("m-anamizu-evac-2", MsgType.UPDATE, (original.reference_key,))
    await svc.ledger.record_alert(update)
    await board.send(delivery_of(update, "leaders:kawashima", ("L-yamada",)))
    cancel = evacuation("m-anamizu-evac-3", MsgType.CANCEL, (update.reference_key,))
    await board.send(delivery_of(cancel, "leaders:kawashima", ("L-yamada",)))
    assert {c.state for c in await cs.circulars_of(env.db, "anamizu")} == {"cancelled"}
    for channel in ("line", "email"):
        cancels = [r for r in env.outbox(channel) if "回覧の取消" in json.dumps(r, ensure_ascii=False)]
        assert len(cancels) == 1, f"{channel}: {len(cancels)} cancel notices to one leader"


async def test_answers_count_once_and_the_latest_counts(env: Env) -> None:
    svc = env.svc
    alert = evacuation()
    await svc.ledger.record_alert(alert)
    await CircularBoard(svc).send(delivery_of(alert, "leaders:kawashima", ("L-yamada",)))
    (c,) = await cs.circulars_of(env.db, "anamizu")
    (d,) = await cs.deliveries(env.db, c.id)
    first = Answer("safety", {"safe": 18, "need_help": 2, "unreachable": 1})
    assert await cs.answer(env.db, d.id, first, "nonce-0000000000001", env.clock.at)
    assert not await cs.answer(env.db, d.id, first, "nonce-0000000000001", env.clock.at), "the same form twice"
    env.clock.advance(minutes=3)
    assert await cs.answer(env.db, d.id, Answer("safety", {"safe": 19, "need_help": 2}), "nonce-0000000000002", env.clock.at)
    assert await cs.answer(env.db, d.id, Answer("text", {"note": "=HYPERLINK(\"x\")"}), "nonce-0000000000003", env.clock.at)
    s = await report.summary(env.db, svc.settings, c)
    (kawashima,) = [r for r in s.districts if r.district == "kawashima"]
    assert kawashima.sums == {"safe": 19, "need_help": 2}
    csv_text = report.to_csv(s, svc.settings)
    assert csv_text.startswith("\ufeff地区,")
    assert "'=HYPERLINK" in csv_text, "a note can never become a formula in Excel"


class _Failing:
    name: ClassVar[str] = "line"
    addressing: ClassVar[Any] = "both"
    max_text_length: ClassVar[int | None] = None
    max_recipients_per_request: ClassVar[int | None] = None
    required_credentials: ClassVar[tuple[str, ...]] = ()
    calls: ClassVar[list[str]] = []

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        return cls()

    async def send(self, delivery: Delivery) -> SendResult:
        self.calls.append(delivery.idempotency_key)
        raise TransientError("LINE answered 503")

    async def close(self) -> None:
        return None


async def test_a_failing_notice_is_retried_with_the_same_key_then_given_up(env: Env) -> None:
    _Failing.calls.clear()
    svc = replace(env.svc, adapters=AdapterPool(env.svc.settings, {"line": _Failing}))
    svc = replace(svc, settings=svc.settings.model_copy(update={"circulars": svc.settings.circulars.model_copy(update={"notice_max_attempts": 3})}))
    alert = evacuation()
    await svc.ledger.record_alert(alert)
    await CircularBoard(svc).send(delivery_of(alert, "leaders:omachi", ("L-suzuki",)))
    (c,) = await cs.circulars_of(env.db, "anamizu")
    (job,) = [j for j in svc.scheduler.jobs() if j["id"] == job_id(c.id)]
    assert job["next_run"] == env.clock.at + timedelta(seconds=30), "retried 30 s later, before the reminder"
    chain = Chain(svc)
    for wait in (30, 120):
        env.clock.advance(seconds=wait)
        await chain.run("anamizu", c.id)
    assert len(_Failing.calls) == 3 and len(set(_Failing.calls)) == 1, "every try carries the same key"
    states = [n["state"] for n in await cs.notice_states(env.db, c.id)]
    assert states == ["dead"]
    (d,) = await cs.deliveries(env.db, c.id)
    assert d.officers_due is not None and d.officers_due <= env.clock.at, "unreachable: the officers, now"
    assert await steps.sendable(env.db, c.id, env.clock.at) == []


class _Hanging(_Failing):
    async def send(self, delivery: Delivery) -> SendResult:
        import asyncio

        self.calls.append(delivery.idempotency_key)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


async def test_a_hung_provider_leaves_notices_to_the_job_and_the_dispatch_goes_on(env: Env) -> None:
    import time

    _Failing.calls.clear()
    settings = env.svc.settings.model_copy(
        update={"channels": {**env.svc.settings.channels, "circular": ChannelSettings(timeout_s=0.5)}}
    )
    svc = replace(env.svc, settings=settings, adapters=AdapterPool(settings, {"line": _Hanging}))
    alert = evacuation()
    await svc.ledger.record_alert(alert)
    started = time.monotonic()
    result = await CircularBoard(svc).send(delivery_of(alert, "leaders:omachi", ("L-suzuki",)))
    assert time.monotonic() - started < 3, "the board does not wait for a hung provider"
    assert result.accepted == 1, "the circular and the delivery are recorded all the same"
    (c,) = await cs.circulars_of(env.db, "anamizu")
    assert [n["state"] for n in await cs.notice_states(env.db, c.id)] == ["pending"]
    (job,) = [j for j in svc.scheduler.jobs() if j["id"] == job_id(c.id)]
    assert job["next_run"] <= env.clock.at, "the job sends it at once"


async def test_a_lost_job_comes_back_with_the_sweep_and_a_failing_run_is_retried(env: Env) -> None:
    from broadcaster.circulars.wiring import SWEEP, register_jobs

    svc = env.svc
    alert = evacuation()
    await svc.ledger.record_alert(alert)
    await CircularBoard(svc).send(delivery_of(alert, "leaders:omachi", ("L-suzuki",)))
    (c,) = await cs.circulars_of(env.db, "anamizu")
    svc.scheduler.cancel(job_id(c.id))  # as if the process died while the job ran
    assert [j for j in svc.scheduler.jobs() if j["id"] == job_id(c.id)] == []
    register_jobs(svc)
    await svc.scheduler.handlers[SWEEP]({})
    (job,) = [j for j in svc.scheduler.jobs() if j["id"] == job_id(c.id)]
    assert job["next_run"] == env.clock.at + timedelta(minutes=5)

    broken = replace(svc, ledger=_Broken(svc.ledger))  # type: ignore[arg-type]
    register_jobs(broken)
    await broken.scheduler.handlers["circular.tick"]({"tenant": "anamizu", "circular": c.id})
    (job,) = [j for j in svc.scheduler.jobs() if j["id"] == job_id(c.id)]
    assert job["next_run"] == env.clock.at + timedelta(minutes=1), "tried again in a minute"


class _Broken:
    """A ledger whose database is away."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    @property
    def db(self) -> Any:
        raise ConnectionError("the database is away")


async def test_a_routine_circular_never_calls_the_officers_by_default(env: Env) -> None:
    svc = env.svc
    await svc.audiences.add(
        "anamizu", kind="leader", name="電話だけの会長", districts=["kawashima"], external_ref="L-phone",
        endpoints={"circular": "L-phone", "phone": "0768529999"},
    )
    cid = await routine.create(svc, "anamizu", routine.RoutineSpec(title="町内会費", body="集金です。", districts=("kawashima",)), [], "officer:anamizu/tanaka")
    chain = Chain(svc)
    await chain.run("anamizu", cid)
    env.clock.advance(days=3)
    await chain.run("anamizu", cid)
    assert [a for a in await reports.alerts(svc.ledger, tenant="anamizu") if a["identifier"].startswith("sys-circ-")] == []
    phone_only = [d for d in await cs.deliveries(env.db, cid) if d.name == "電話だけの会長"]
    assert phone_only[0].officers_due is None


async def test_the_console_summary_keeps_the_real_safety_check_when_a_drill_follows(env: Env) -> None:
    svc = env.svc
    real = evacuation()
    await svc.ledger.record_alert(real)
    await CircularBoard(svc).send(delivery_of(real, "leaders:kawashima", ("L-yamada",)))
    env.clock.advance(minutes=30)
    drill = evacuation("m-anamizu-drill-1").model_copy(
        update={"status": Status.EXERCISE, "event_key": "anamizu|drill", "sent": env.clock.at, "received": env.clock.at}
    )
    await svc.ledger.record_alert(drill)
    await CircularBoard(svc).send(delivery_of(drill, "leaders:kawashima", ("L-yamada",)))
    assert sorted(c.status for c in await cs.circulars_of(env.db, "anamizu")) == ["Actual", "Exercise"]
    shown, _ = await report.coverage(env.db, svc.settings, "anamizu")
    assert shown is not None and shown.alert_id == real.identifier, "a later drill hid the real replies"
