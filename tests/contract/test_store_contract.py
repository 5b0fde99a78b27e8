"""The ledger's behaviour, the same on SQLite and on the real local PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from broadcaster.model import (
    Alert,
    Dispatch,
    Explanation,
    Hops,
    Receipt,
    ReceiptStatus,
    now,
)
from broadcaster.store import ledger as ledger_module
from broadcaster.store import migrate, reports, tables
from broadcaster.store.audiences import Audiences
from broadcaster.store.ledger import Ledger
from tests.helpers import manual


def _alert(
    identifier: str,
    *,
    tenant: str = "anamizu",
    event: str = "ev1",
    msg: str = "Alert",
    minutes: int = 0,
    refs: tuple[str, ...] = (),
) -> Alert:
    return Alert.model_validate(
        {
            "identifier": identifier,
            "sender": "anamizu@broadcaster",
            "sent": (now() + timedelta(minutes=minutes)).replace(microsecond=0).isoformat(),
            "status": "Actual",
            "msgType": msg,
            "references": list(refs),
            "eventKey": event,
            "origin": "manual",
            "tenant": tenant,
            "info": [
                {
                    "category": ["Safety"],
                    "event": "避難指示",
                    "urgency": "Immediate",
                    "severity": "Severe",
                    "certainty": "Likely",
                    "eventCode": [{"valueName": "broadcaster:kind", "value": "evacuation"}],
                    "headline": f"見出し {identifier}",
                }
            ],
        }
    )


def _dispatch(
    alert: Alert,
    channel: str = "line",
    audience: str = "public",
    batch: int = 0,
    recipients: tuple[str, ...] = (),
) -> Dispatch:
    at = now()
    return Dispatch(
        tenant=alert.tenant or "",
        alert_id=alert.identifier,
        event_key=alert.event_key,
        channel=channel,
        audience=audience,
        batch=batch,
        batch_count=1,
        recipients=recipients,
        template="auto",
        explanation=Explanation(rule="r1", reasons=("because",)),
        created=at,
        deadline=at + timedelta(minutes=1),
    )


def _receipt(d: Dispatch, status: ReceiptStatus, attempt: int = 1) -> Receipt:
    at = now()
    return Receipt(
        dispatch_key=d.key,
        tenant=d.tenant,
        alert_id=d.alert_id,
        channel=d.channel,
        audience=d.audience,
        batch=d.batch,
        attempt=attempt,
        status=status,
        mode="outbox",
        hops=Hops(received=at - timedelta(milliseconds=40), send_started=at, sent=at),
    )


async def test_migrations_reach_head_and_are_idempotent(ledger: Ledger) -> None:
    assert await migrate.current_revision(ledger.db) == migrate.head_revision()
    await migrate.upgrade(ledger.db)  # again: nothing to do, no error
    names = await ledger.db.read(lambda c: set(sa.inspect(c).get_table_names()))
    assert set(tables.metadata.tables) <= names


async def test_ingest_is_idempotent_and_keeps_time_zones(ledger: Ledger) -> None:
    raw = manual()
    alert = _alert("a1")
    assert await ledger.record_ingest(raw, [alert]) == ["received"]
    await ledger.record_dispatches(alert, [])
    assert await ledger.record_ingest(raw, [alert]) == ["routed"], "the same alert twice is one alert"
    stored = await ledger.alert("anamizu", "a1")
    assert stored == alert
    assert stored is not None and stored.sent.utcoffset() is not None
    rows = await reports.alerts(ledger)
    assert rows[0]["sent"] == alert.sent, "an aware timestamp comes back as the same instant"


async def test_dispatches_record_once_and_only_open_ones_are_returned(ledger: Ledger) -> None:
    alert = _alert("a1")
    await ledger.record_ingest(manual(), [alert])
    d1, d2 = _dispatch(alert, "line"), _dispatch(alert, "email")
    assert await ledger.record_dispatches(alert, [d1, d2]) == [d1, d2]
    await ledger.begin_attempt(d1, now())
    await ledger.finish_attempt(_receipt(d1, ReceiptStatus.ACCEPTED))
    again = await ledger.record_dispatches(alert, [d1, d2])
    assert again == [d2], "a decided-again dispatch that already went out is not sent twice"
    state = await ledger.dispatch_state(d1.key)
    assert state is not None and state.final and state.attempts == 1
    assert await ledger.alert_state("anamizu", "a1") == "routed"


async def test_an_alert_routed_again_after_it_was_done_stays_done(ledger: Ledger) -> None:
    alert = _alert("a1")
    await ledger.record_ingest(manual(), [alert])
    d = _dispatch(alert, "line")
    await ledger.record_dispatches(alert, [d])
    await ledger.begin_attempt(d, now())
    await ledger.finish_attempt(_receipt(d, ReceiptStatus.ACCEPTED))
    assert await ledger.complete_if_final("anamizu", "a1")
    assert await ledger.record_dispatches(alert, [d]) == [], "a redelivered alert sends nothing again"
    assert await ledger.alert_state("anamizu", "a1") == "done", "and nothing would mark it done again"
    # New work for a done alert (a decision that adds a channel) opens it again.
    d2 = _dispatch(alert, "email")
    assert await ledger.record_dispatches(alert, [d, d2]) == [d2]
    assert await ledger.alert_state("anamizu", "a1") == "routed"


async def test_attempts_show_what_was_in_doubt(ledger: Ledger) -> None:
    alert = _alert("a1")
    await ledger.record_ingest(manual(), [alert])
    d = _dispatch(alert)
    await ledger.record_dispatches(alert, [d])
    assert await ledger.begin_attempt(d, now()) == 1  # ... and the process dies here
    assert await ledger.begin_attempt(d, now()) == 2
    await ledger.finish_attempt(_receipt(d, ReceiptStatus.ACCEPTED, attempt=2))
    attempts = await reports.attempts(ledger, d.key)
    assert [a["status"] for a in attempts] == ["started", "accepted"]
    # A late failure report of another attempt must not undo the success.
    await ledger.finish_attempt(_receipt(d, ReceiptStatus.FAILED, attempt=1))
    state = await ledger.dispatch_state(d.key)
    assert state is not None and state.state == "accepted"


async def test_supersede_and_cancel_queries(ledger: Ledger) -> None:
    original = _alert("a1", minutes=0)
    update = _alert("a2", msg="Update", minutes=1, refs=(original.reference_key,))
    await ledger.record_ingest(manual(), [original, update])
    d_orig = _dispatch(original, "line")
    await ledger.record_dispatches(original, [d_orig])
    assert await ledger.superseding_alert(d_orig, original.sent) is None, "an update without a line dispatch"
    await ledger.record_dispatches(update, [_dispatch(update, "line")])
    assert await ledger.superseding_alert(d_orig, original.sent) == "a2"
    d_mail = _dispatch(original, "email")
    assert await ledger.superseding_alert(d_mail, original.sent) is None, "nobody would be left with neither"
    cancel = _alert("a3", msg="Cancel", minutes=2, refs=(original.reference_key,))
    await ledger.record_ingest(manual(), [cancel])
    assert await ledger.superseding_alert(d_mail, original.sent) == "a3", "a cancel supersedes everywhere"
    assert sorted(await ledger.earlier_alerts(cancel)) == ["a1", "a2"]
    assert not await ledger.was_attempted("anamizu", ["a1"], "line", "public", 0)
    await ledger.begin_attempt(d_orig, now())
    assert await ledger.was_attempted("anamizu", ["a1"], "line", "public", 0), "in doubt counts as sent"


async def test_tenants_do_not_see_each_others_alerts(ledger: Ledger) -> None:
    await ledger.record_ingest(
        manual(), [_alert("same-id", tenant="anamizu"), _alert("same-id", tenant="wajima")]
    )
    a = await ledger.alert("anamizu", "same-id")
    w = await ledger.alert("wajima", "same-id")
    assert a is not None and w is not None and a.tenant == "anamizu" and w.tenant == "wajima"
    assert {r["tenant"] for r in await reports.alerts(ledger, tenant="wajima")} == {"wajima"}


async def test_quarantine_keeps_the_bytes_and_the_reason(ledger: Ledger) -> None:
    raw = manual()
    await ledger.record_quarantine(raw, "malformed_json", "line 1")
    rows = await reports.quarantine(ledger)
    assert rows[0]["reason"] == "malformed_json"
    body = await ledger.db.read(
        lambda c: c.execute(
            sa.select(tables.raw_events.c.body).where(tables.raw_events.c.id == raw.id)
        ).scalar()
    )
    assert body == raw.body


async def test_stale_dispatches_are_found_for_redrive(ledger: Ledger) -> None:
    alert = _alert("a1")
    await ledger.record_ingest(manual(), [alert])
    d = _dispatch(alert)
    await ledger.record_dispatches(alert, [d])
    assert await ledger.stale_dispatches(timedelta(seconds=60)) == []
    assert await ledger.stale_dispatches(timedelta(seconds=-1)) == [d]
    await ledger.begin_attempt(d, now())
    await ledger.finish_attempt(_receipt(d, ReceiptStatus.ACCEPTED))
    assert await ledger.stale_dispatches(timedelta(seconds=-1)) == [], "a final dispatch is never re-driven"


async def test_audiences_expand_and_count(ledger: Ledger) -> None:
    aud = Audiences(ledger.db)
    await aud.add(
        "anamizu", districts=["kawashima"], endpoints={"line": "U1", "email": "a@example.jp"}, language="vi"
    )
    await aud.add("anamizu", districts=["omachi"], endpoints={"line": "U2"})
    await aud.add("anamizu", kind="leader", districts=["kawashima"], endpoints={"circular": "L1"})
    await aud.add("wajima", districts=["kawashima"], endpoints={"line": "W1"})
    assert [r.address for r in await aud.recipients("anamizu", "public", "line")] == ["U1", "U2"]
    assert [
        (r.address, r.language) for r in await aud.recipients("anamizu", "district:kawashima", "line")
    ] == [("U1", "vi")]
    assert await aud.count("anamizu", "leaders:kawashima", "circular") == 1
    assert await aud.count("anamizu", "leaders:omachi", "circular") == 0
    assert await aud.count("wajima", "public", "line") == 1


async def test_audit_chain_detects_tampering(ledger: Ledger) -> None:
    for n in range(3):
        await ledger.audit(
            actor="officer:anamizu/tanaka", action="send", tenant="anamizu", target=f"a{n}", detail={"n": n}
        )
    assert await ledger.verify_audit() == (3, [])
    await ledger.db.write(
        lambda c: c.execute(
            tables.audit_log.update().where(tables.audit_log.c.target == "a1").values(actor="someone else")
        )
    )
    n, bad = await ledger.verify_audit()
    assert n == 3 and len(bad) == 1


async def test_the_migration_builds_the_audit_checkpoints_of_tables_py(ledger: Ledger) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from tests.contract.test_feed_store import _tables_named

    def diff(c: sa.Connection) -> list[object]:
        mc = MigrationContext.configure(c, opts={"compare_type": True})
        return [d for d in compare_metadata(mc, tables.metadata) if "audit_checkpoints" in _tables_named(d)]

    assert await ledger.db.read(diff) == []


async def test_the_audit_page_checks_from_the_last_checkpoint(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    async def add(n: int) -> None:
        await ledger.audit(actor="officer:anamizu/tanaka", action="send", tenant="anamizu", target=f"a{n}")

    for n in range(5):
        await add(n)
    assert await ledger.verify_audit_since() == (5, []), "no checkpoint yet: the whole chain"
    await add(5)
    await add(6)
    hashed: list[object] = []
    real = ledger_module.audit_hash

    def counted(prev: str, row: dict[str, object]) -> str:
        hashed.append(row.get("id"))
        return real(prev, row)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger_module, "audit_hash", counted)
    assert await ledger.verify_audit_since() == (7, [])
    monkeypatch.setattr(ledger_module, "audit_hash", real)
    assert len(hashed) == 2, "only the rows added since the checkpoint are hashed again"

    # A row after the checkpoint altered: found.
    await add(7)
    await ledger.db.write(
        lambda c: c.execute(tables.audit_log.update().where(tables.audit_log.c.target == "a7").values(actor="x"))
    )
    n, bad = await ledger.verify_audit_since()
    assert n == 8 and len(bad) == 1
    # The chain rewritten up to the checkpoint (its row's hash changed): found too.
    last = await ledger.db.read(
        lambda c: c.execute(sa.select(sa.func.max(tables.audit_checkpoints.c.upto_id))).scalar()
    )
    await ledger.db.write(
        lambda c: c.execute(tables.audit_log.update().where(tables.audit_log.c.id == last).values(hash="0" * 64))
    )
    _n, bad = await ledger.verify_audit_since()
    assert last in bad


@pytest.mark.parametrize("n", [1, 50])
async def test_many_alerts_round_trip(ledger: Ledger, n: int) -> None:
    alerts = [_alert(f"x{i}") for i in range(n)]
    assert await ledger.record_ingest(manual(), alerts) == ["received"] * n
    assert len(await reports.alerts(ledger, limit=100)) == n
