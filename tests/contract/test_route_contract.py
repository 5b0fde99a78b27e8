"""The route stage on SQLite and PostgreSQL: cancels follow the original whatever the rules say
now, put-off dispatches, escalations, dedupe windows, and one tenant's people only."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from broadcaster.bus import Ack, Outgoing, Record, Retry
from broadcaster.bus.topics import ALERTS
from broadcaster.channels import STANDARD_PROFILES, ChannelProfile
from broadcaster.model import JST, Alert, DispatchOrder, now
from broadcaster.pipeline.route import RouteStage
from broadcaster.pipeline.schedule import RouteBackground
from broadcaster.pipeline.two_person import DEFAULT_CANCEL_TEXTS, cancel_texts_for
from broadcaster.render.languages import SUPPORTED
from broadcaster.rules.engine import RuleSet, build_rule_set
from broadcaster.rules.library import RuleLibrary
from broadcaster.settings import DEFAULT_CHANNELS
from broadcaster.store import routing
from broadcaster.store import tables as t
from broadcaster.store.audiences import Audiences, Person
from broadcaster.store.ledger import Ledger
from tests.rules_helpers import directory, manual, sample

DEFAULT = "  - name: default\n    default: true\n    channels: [website]\n"


class FakeBus:
    def __init__(self) -> None:
        self.published: list[Outgoing] = []

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        self.published.extend(messages)

    async def publish(self, topic: str, value: bytes, *, key: str, headers: Any = None) -> None:
        self.published.append(Outgoing(topic, value, key, headers or {}))

    def orders(self) -> list[DispatchOrder]:
        return [DispatchOrder.model_validate_json(m.value) for m in self.published]


def rules(tenant: str, body: str) -> RuleSet:
    return build_rule_set(
        tenant, [(Path(f"{tenant}.yaml"), ("rules:\n" + body + DEFAULT).encode())], DEFAULT_CHANNELS
    )


class Harness:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.bus = FakeBus()
        self.audiences = Audiences(ledger.db)
        self.sets: dict[str, RuleSet] = {}
        self.stage = RouteStage(
            self.bus,  # type: ignore[arg-type]
            ledger,
            self.audiences,
            directory(),
            lambda tenant: self.sets[tenant],
            STANDARD_PROFILES,
            {"flash": 60.0, "high": 300.0, "normal": 900.0, "low": 3600.0},
        )

    async def route(self, alert: Alert) -> list[DispatchOrder]:
        await self.ledger.record_alert(alert, submitted_by="officer:anamizu/tanaka")
        before = len(self.bus.published)
        record = Record(
            "alerts",
            0,
            0,
            f"{alert.tenant}|{alert.event_key}",
            alert.model_dump_json(by_alias=True).encode(),
            {},
            0.0,
        )
        assert isinstance(await self.stage.handle(record), Ack)
        # Dispatch orders only: a cancel one officer sent alone also tells the approvers (an alert).
        return [
            DispatchOrder.model_validate_json(m.value)
            for m in self.bus.published[before:]
            if m.topic != ALERTS
        ]

    async def states(self, alert: Alert) -> dict[tuple[str, str, int], str]:
        d = t.dispatches
        rows = await self.ledger.db.read(
            lambda c: c.execute(
                sa.select(d.c.channel, d.c.audience, d.c.batch, d.c.state).where(
                    d.c.tenant == alert.tenant, d.c.alert_id == alert.identifier
                )
            ).all()
        )
        return {(r.channel, r.audience, r.batch): r.state for r in rows}


def error_cancel(original: Alert, at: datetime) -> Alert:
    """The cancel one officer may send alone: the pre-approved 'sent in error' text (two_person.py)."""
    mistake = next(x for x in DEFAULT_CANCEL_TEXTS if x.sent_in_error)
    texts = cancel_texts_for(original, mistake)
    return manual(
        kind="notice",
        event=original.primary.event,
        headline=texts["ja"][0],
        description=texts["ja"][1],
        msgType="Cancel",
        references=[original.identifier],
        at=at,
        translations={"en": {"headline": texts["en"][0], "description": texts["en"][1]}},
    )


def _line(n: int) -> str:
    return f"U{n:032x}"


async def _people(h: Harness, tenant: str = "anamizu", prefix: str = "") -> None:
    await h.audiences.import_people(
        tenant,
        [
            Person(
                f"{prefix}R{n}",
                districts=("kawashima",),
                endpoints=(("line", _line(n)), ("email", f"{prefix}r{n}@example.jp")),
            )
            for n in range(1, 4)
        ]
        + [
            Person(
                f"{prefix}L1",
                kind="leader",
                districts=("kawashima",),
                endpoints=(("line", _line(90)), ("circular", f"{prefix}L1")),
            ),
            Person(
                f"{prefix}D1",
                kind="deputy",
                districts=("kawashima",),
                endpoints=(("line", _line(91)), ("circular", f"{prefix}D1")),
            ),
        ],
    )


def _slots(orders: list[DispatchOrder]) -> set[tuple[str, str, int, tuple[str, ...]]]:
    return {
        (o.dispatch.channel, o.dispatch.audience, o.dispatch.batch, o.dispatch.recipients) for o in orders
    }


async def test_a_cancel_follows_the_original_even_after_the_rules_changed(ledger: Ledger) -> None:
    h = Harness(ledger)
    await _people(h)
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: v1\n    match: {kind: notice}\n    channels: [website, line, email]\n    audience: district\n",
    )
    original = manual(kind="notice", event="お知らせ", headline="v1", districts=["kawashima"], at=now())
    sent = await h.route(original)
    assert {(o.dispatch.channel, o.dispatch.audience) for o in sent} == {
        ("website", "public"),
        ("line", "district:kawashima"),
        ("email", "district:kawashima"),
    }
    # The town edits its rules: notices now go to the website only, and to nobody by e-mail.
    h.sets["anamizu"] = rules("anamizu", "  - name: v2\n    match: {kind: notice}\n    channels: [website]\n")
    cancel = error_cancel(original, at=now() + timedelta(seconds=1))
    followed = await h.route(cancel)
    assert _slots(followed) == _slots(sent), "exactly the original's slots, batch for batch, same people"
    assert all(o.dispatch.explanation.rule == "cancel-follows-original" for o in followed)
    assert all("by rule v1" in o.dispatch.explanation.reasons[0] for o in followed)


async def test_an_update_goes_where_the_rules_say_and_where_the_original_went(ledger: Ledger) -> None:
    h = Harness(ledger)
    await _people(h)
    h.sets["anamizu"] = rules(
        "anamizu", "  - name: v1\n    match: {kind: notice}\n    channels: [email]\n    audience: district\n"
    )
    original = manual(kind="notice", event="お知らせ", headline="v1", districts=["kawashima"], at=now())
    await h.route(original)
    h.sets["anamizu"] = rules("anamizu", "  - name: v2\n    match: {kind: notice}\n    channels: [website]\n")
    update = manual(
        kind="notice",
        event="お知らせ",
        headline="訂正",
        msgType="Update",
        references=[original.identifier],
        at=now() + timedelta(seconds=1),
    )
    orders = await h.route(update)
    assert {(o.dispatch.channel, o.dispatch.audience, o.dispatch.explanation.rule) for o in orders} == {
        ("website", "public", "v2"),
        ("email", "district:kawashima", "follow-earlier"),
    }


def _window_around_now(minutes: int = 90) -> str:
    here = now().astimezone(JST)
    start, end = here - timedelta(minutes=minutes), here + timedelta(minutes=minutes)
    return f"{{from: '{start:%H:%M}', to: '{end:%H:%M}'}}"


async def test_quiet_hours_put_off_pushes_which_go_once_when_due(ledger: Ledger) -> None:
    h = Harness(ledger)
    await _people(h)
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: quiet\n    match: {kind: notice}\n    channels: [line]\n    audience: district\n"
        f"    quiet_hours: {_window_around_now()}\n    continue: true\n"
        "  - name: web\n    match: {kind: notice}\n    channels: [website]\n",
    )
    alert = manual(kind="notice", event="お知らせ", headline="夜", districts=["kawashima"], at=now())
    orders = await h.route(alert)
    assert [o.dispatch.channel for o in orders] == ["website"], "the website at once; LINE waits"
    assert (await h.states(alert))[("line", "district:kawashima", 0)] == "scheduled"
    (item,) = await routing.scheduled_of(ledger.db, "anamizu", alert.identifier)
    assert item["purpose"] == "delay" and item["due"] > now() + timedelta(minutes=80)
    assert await routing.release_due(ledger.db) == [], "not due yet"
    stale = await ledger.stale_dispatches(timedelta(seconds=-1))
    assert all(d.channel != "line" for d in stale), "the redriver leaves scheduled dispatches alone"
    released = await routing.release_due(ledger.db, at=item["due"] + timedelta(seconds=1))
    assert [(d.channel, d.audience) for d in released] == [("line", "district:kawashima")]
    assert await routing.release_due(ledger.db, at=item["due"] + timedelta(seconds=2)) == [], "claimed once"
    assert (await h.states(alert))[("line", "district:kawashima", 0)] == "pending"


async def test_a_due_dispatch_is_published_by_the_route_background(ledger: Ledger) -> None:
    h = Harness(ledger)
    await _people(h)
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: later\n    match: {kind: notice}\n    channels: [email]\n    audience: district\n    delay: 1s\n",
    )
    alert = manual(kind="notice", event="お知らせ", headline="後で", districts=["kawashima"], at=now())
    assert await h.route(alert) == []
    background = RouteBackground(h.bus, ledger, None)  # type: ignore[arg-type]
    await asyncio.sleep(1.2)
    assert await background.release_once() == 1
    (order,) = h.bus.orders()[-1:]
    assert order.dispatch.channel == "email" and order.alert.identifier == alert.identifier
    assert order.dispatch.deadline > order.dispatch.created + timedelta(seconds=900), (
        "late relative to when due"
    )


async def test_escalations_wait_and_an_acknowledgement_calls_them_off(ledger: Ledger) -> None:
    h = Harness(ledger)
    await _people(h)
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: circular\n    match: {kind: evacuation}\n    channels: [circular]\n    audience: leaders\n"
        "    escalate:\n      - after: 15m\n        audience: deputies\n        channels: [circular, line]\n",
    )
    alert = manual(
        kind="evacuation",
        event="避難指示",
        headline="h",
        level=4,
        districts=["kawashima"],
        status="Exercise",
        at=now(),
    )
    orders = await h.route(alert)
    assert [(o.dispatch.channel, o.dispatch.audience, o.dispatch.recipients) for o in orders] == [
        ("circular", "leaders:kawashima", ("L1",))
    ]
    scheduled = await routing.scheduled_of(ledger.db, "anamizu", alert.identifier)
    assert {(s["channel"], s["audience"], s["purpose"], s["scope"]) for s in scheduled} == {
        ("circular", "deputies:kawashima", "escalation", "kawashima"),
        ("line", "deputies:kawashima", "escalation", "kawashima"),
    }
    assert await routing.acknowledge(ledger.db, "anamizu", alert.identifier, "omachi") == 0
    assert await routing.acknowledge(ledger.db, "anamizu", alert.identifier, "kawashima") == 2
    later = now() + timedelta(hours=1)
    assert await routing.release_due(ledger.db, at=later) == []
    assert set((await h.states(alert)).values()) == {"pending", "recorded"}


async def test_a_cancel_calls_off_what_was_still_scheduled(ledger: Ledger) -> None:
    h = Harness(ledger)
    await _people(h)
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: later\n    match: {kind: notice}\n    channels: [email]\n    audience: district\n    delay: 30m\n",
    )
    original = manual(kind="notice", event="お知らせ", headline="h", districts=["kawashima"], at=now())
    await h.route(original)
    cancel = error_cancel(original, at=now() + timedelta(seconds=1))
    followed = await h.route(cancel)
    assert [(o.dispatch.channel, o.dispatch.audience) for o in followed] == [("email", "district:kawashima")]
    assert set((await h.states(original)).values()) == {"superseded"}
    assert await routing.release_due(ledger.db, at=now() + timedelta(hours=1)) == []


async def test_a_held_alerts_schedule_waits_for_the_approver(ledger: Ledger) -> None:
    h = Harness(ledger)
    await _people(h)
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: order\n    match: {kind: evacuation}\n    channels: [circular]\n    audience: leaders\n"
        "    require_approval: true\n    escalate:\n      - after: 1m\n        audience: deputies\n        channels: [line]\n",
    )
    alert = manual(
        kind="evacuation", event="避難指示", headline="h", level=4, districts=["kawashima"], at=now()
    )
    assert await h.route(alert) == [], "held: nothing goes before the second officer"
    assert await ledger.alert_state("anamizu", alert.identifier) == "held"
    assert await routing.release_due(ledger.db, at=now() + timedelta(hours=1)) == []
    await ledger.release_held("anamizu", alert.identifier)
    released = await routing.release_due(ledger.db, at=now() + timedelta(hours=1))
    assert [(d.channel, d.audience) for d in released] == [("line", "deputies:kawashima")]


async def test_a_dedupe_window_skips_the_same_news_but_not_a_redelivery(ledger: Ledger) -> None:
    h = Harness(ledger)
    await _people(h)
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: push\n    match: {kind: notice}\n    channels: [line]\n    audience: district\n"
        "    dedupe: {window: 1h, by: [kind, event]}\n    continue: true\n"
        "  - name: web\n    match: {kind: notice}\n    channels: [website]\n",
    )
    first = manual(kind="notice", event="断水", headline="1", districts=["kawashima"], at=now())
    assert {o.dispatch.channel for o in await h.route(first)} == {"line", "website"}
    # Routed again (a redelivery): its own mark does not silence it; the same keys come out.
    again = await h.route(first)
    assert {o.dispatch.channel for o in again} == {"line", "website"}
    assert set(await h.states(first)) == {("line", "district:kawashima", 0), ("website", "public", 0)}
    second = manual(
        kind="notice", event="断水", headline="2", districts=["kawashima"], at=now() + timedelta(minutes=5)
    )
    assert {o.dispatch.channel for o in await h.route(second)} == {"website"}
    other = manual(
        kind="notice", event="停電", headline="3", districts=["kawashima"], at=now() + timedelta(minutes=6)
    )
    assert {o.dispatch.channel for o in await h.route(other)} == {"line", "website"}


def _fail_marks(ledger: Ledger) -> Any:
    """Make every write of a dedupe mark fail at the database, as a crash between writes would."""
    engine = ledger.db.engine  # type: ignore[attr-defined]
    target = getattr(engine, "sync_engine", engine)

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ROUTE_MARKS"):
            raise RuntimeError("the database went away")

    sa.event.listen(target, "before_cursor_execute", before)
    return lambda: sa.event.remove(target, "before_cursor_execute", before)


async def test_a_failure_between_routes_writes_keeps_dispatches_and_dedupe_marks_together(
    ledger: Ledger,
) -> None:
    h = Harness(ledger)
    await _people(h)
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: push\n    match: {kind: notice}\n    channels: [line]\n    audience: district\n"
        "    dedupe: {window: 1h, by: [kind, event]}\n",
    )
    first = manual(kind="notice", event="断水", headline="1", districts=["kawashima"], at=now())
    await ledger.record_alert(first, submitted_by="officer:anamizu/tanaka")
    record = Record(
        "alerts", 0, 0, f"anamizu|{first.event_key}", first.model_dump_json(by_alias=True).encode(), {}, 0.0
    )
    undo = _fail_marks(ledger)
    try:
        assert isinstance(await h.stage.handle(record), Retry)
    finally:
        undo()
    # Nothing of the failed pass stays: no dispatch is recorded without its mark.
    assert await h.states(first) == {}
    assert h.bus.published == []
    # The retry records both; the same news a minute later is then skipped.
    assert "line" in {o.dispatch.channel for o in await h.route(first)}
    second = manual(
        kind="notice", event="断水", headline="2", districts=["kawashima"], at=now() + timedelta(minutes=1)
    )
    assert "line" not in {o.dispatch.channel for o in await h.route(second)}


async def test_a_tenant_reaches_only_its_own_people(ledger: Ledger) -> None:
    await ledger.ensure_tenants([("noto", "能登町")])
    h = Harness(ledger)
    await _people(h, "anamizu", "a")
    await _people(h, "wajima", "w")  # the same district id and LINE ids: still other people
    body = (
        "  - name: all\n    match: {kind: [notice, earthquake]}\n    channels: [line, email, circular]\n"
        "    audiences: [district, leaders]\n"
    )
    h.sets["anamizu"] = rules("anamizu", body)
    h.sets["wajima"] = rules("wajima", body)
    orders = await h.route(
        manual(kind="notice", event="お知らせ", headline="h", districts=["kawashima"], at=now())
    )
    assert orders and all(o.dispatch.tenant == "anamizu" and o.alert.tenant == "anamizu" for o in orders)
    emails = {r for o in orders if o.dispatch.channel == "email" for r in o.dispatch.recipients}
    assert emails == {"ar1@example.jp", "ar2@example.jp", "ar3@example.jp"}
    # A JMA telegram for both towns becomes one copy per tenant, each routed to its own people.
    for tenant in ("anamizu", "wajima"):
        copy = sample("03_vxse53_shingen_shindo.xml", tenant)
        for o in await h.route(copy):
            assert o.dispatch.tenant == tenant
            if o.dispatch.channel == "email":
                assert all(r.startswith(tenant[0]) for r in o.dispatch.recipients)


async def test_one_post_per_alert_on_a_broadcast_channel_and_one_message_per_person(ledger: Ledger) -> None:
    h = Harness(ledger)
    await _people(h)
    await h.audiences.import_people(
        "anamizu", [Person("R9", districts=("omachi",), endpoints=(("line", _line(9)),))]
    )
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: all\n    match: {kind: evacuation}\n    channels: [website, x, line]\n    audiences: [district, leaders]\n",
    )
    orders = await h.route(
        manual(
            kind="evacuation",
            event="避難指示",
            headline="h",
            level=4,
            districts=["kawashima", "omachi"],
            status="Exercise",
            at=now(),
        )
    )
    by_channel: dict[str, list[DispatchOrder]] = {}
    for o in orders:
        by_channel.setdefault(o.dispatch.channel, []).append(o)
    assert [o.dispatch.audience for o in by_channel["website"]] == ["public"]
    assert [o.dispatch.audience for o in by_channel["x"]] == ["public"]
    assert "reaches everyone at once" in by_channel["website"][0].dispatch.explanation.reasons[-1]
    line = [r for o in by_channel["line"] for r in o.dispatch.recipients]
    assert sorted(line) == sorted({_line(1), _line(2), _line(3), _line(90), _line(91), _line(9)})
    assert len(line) == len(set(line)), "the leader is a resident too, and hears it once"


async def test_reloads_and_refusals_are_shown_in_status_and_audited(ledger: Ledger, tmp_path: Path) -> None:
    folder = tmp_path / "anamizu"
    folder.mkdir()
    (folder / "10.yaml").write_text("rules:\n" + DEFAULT, encoding="utf-8")
    library = RuleLibrary(tmp_path, {"anamizu": []}, DEFAULT_CHANNELS, settle_s=0.0)
    background = RouteBackground(FakeBus(), ledger, library)  # type: ignore[arg-type]
    (first,) = library.events()
    await background._state(first)
    (folder / "10.yaml").write_text(
        "rules:\n  - name: x\n    channels: [pager]\n" + DEFAULT, encoding="utf-8"
    )
    st = (folder / "10.yaml").stat()
    os.utime(folder / "10.yaml", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    library.check(at=1.0)
    (refused,) = library.check(at=2.0)
    await background.record(refused)
    (row,) = await routing.rules_status(ledger.db)
    assert row["digest"] == first.digest, "the last good set is what runs"
    assert "unknown channel(s) pager" in row["error"] and f"{folder / '10.yaml'}:2" in row["error"]
    actions = await ledger.db.read(
        lambda c: [
            r.action
            for r in c.execute(sa.select(t.audit_log.c.action).where(t.audit_log.c.tenant == "anamizu"))
        ]
    )
    assert actions == ["rules_refused"]


async def test_a_cancel_waiting_for_its_approver_does_not_supersede_what_is_still_to_be_sent(
    ledger: Ledger,
) -> None:
    # A held message has not happened yet: until the second officer approves it, the message it
    # would replace still goes out (and a rejected one never replaces anything).
    h = Harness(ledger)
    await _people(h)
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: n\n    match: {kind: notice}\n    channels: [website, line]\n    audience: district\n",
    )
    original = manual(kind="notice", event="お知らせ", headline="h", districts=["kawashima"], at=now())
    sent = await h.route(original)
    assert sent
    free_cancel = manual(
        kind="notice",
        event="お知らせ",
        headline="取消",
        description="都合により取り消します。",
        msgType="Cancel",
        references=[original.identifier],
        at=now() + timedelta(seconds=1),
    )
    assert await h.route(free_cancel) == [], "a cancel without the pre-approved text waits"
    assert await ledger.alert_state("anamizu", free_cancel.identifier) == "held"
    for order in sent:
        assert await ledger.superseding_alert(order.dispatch, original.sent, original.received) is None
    await ledger.release_held("anamizu", free_cancel.identifier)
    for order in sent:
        assert (
            await ledger.superseding_alert(order.dispatch, original.sent, original.received)
            == free_cancel.identifier
        )


async def test_a_rule_asks_for_a_safety_check_and_every_channel_and_the_ledger_see_it(ledger: Ledger) -> None:
    from broadcaster import safety_links

    h = Harness(ledger)
    await _people(h)
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: asks\n    match: {kind: [earthquake, evacuation]}\n    channels: [line, email]\n"
        "    audiences: [district]\n    safety_check: true\n"
        "  - name: notices\n    match: {kind: [notice]}\n    channels: [line, email]\n    audiences: [district]\n",
    )
    quake = sample("03_vxse53_shingen_shindo.xml", "anamizu")
    assert not safety_links.asks(quake)
    orders = await h.route(quake)
    assert orders and all(safety_links.asks(o.alert) for o in orders), "the channels add the buttons and links"
    stored = await ledger.alert("anamizu", quake.identifier)
    assert stored is not None and safety_links.asks(stored), "the answer pages and the webhook read the ledger"
    assert stored.primary.headline == quake.primary.headline and stored.primary.area == quake.primary.area
    # An officer's order waits for a second officer: the approval sends what the ledger holds.
    order = manual(kind="evacuation", event="避難指示", headline="避難指示", districts=["kawashima"], at=now())
    assert await h.route(order) == []
    stored = await ledger.alert("anamizu", order.identifier)
    assert stored is not None and safety_links.asks(stored)
    notice = manual(kind="notice", event="お知らせ", headline="お知らせ", districts=["kawashima"], at=now())
    orders = await h.route(notice)
    assert orders and not any(safety_links.asks(o.alert) for o in orders)
    stored = await ledger.alert("anamizu", notice.identifier)
    assert stored is not None and not safety_links.asks(stored)


async def test_a_channel_addressed_by_device_topics_gets_each_districts_topic_per_language(ledger: Ledger) -> None:
    # FCM by topic (adapters/outbound/fcm, FcmTopicAdapter): the recipients are the district's
    # device topics, one per language a resident may choose, and nobody is looked up; leaders
    # are reached for their role, which no topic names.
    h = Harness(ledger)
    await _people(h)
    h.stage.profiles = {**STANDARD_PROFILES, "fcm": ChannelProfile("topics", 1000, None)}
    h.sets["anamizu"] = rules(
        "anamizu",
        "  - name: all\n    match: {kind: evacuation}\n    channels: [fcm]\n    audiences: [district, leaders]\n",
    )
    orders = await h.route(
        manual(
            kind="evacuation",
            event="避難指示",
            headline="h",
            level=4,
            districts=["kawashima", "omachi"],
            status="Exercise",
            at=now(),
        )
    )
    fcm = {o.dispatch.audience: o.dispatch for o in orders if o.dispatch.channel == "fcm"}
    assert sorted(fcm) == ["district:kawashima", "district:omachi"]
    kawashima = fcm["district:kawashima"]
    assert kawashima.recipients == tuple(f"anamizu.kawashima.{tag}" for tag in SUPPORTED)
    assert kawashima.languages == SUPPORTED and kawashima.batch_count == 1
    assert fcm["district:omachi"].recipients[0] == "anamizu.omachi.ja", "a district nobody registered in"
