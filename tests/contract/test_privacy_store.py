"""Personal data at rest, on SQLite and PostgreSQL: sealed columns, rotation, retention, leaving."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from broadcaster.model import now
from broadcaster.privacy import FieldCipher, SealedDataError, is_sealed
from broadcaster.store import migrate, reports
from broadcaster.store import tables as t
from broadcaster.store.audiences import Audiences, Person
from broadcaster.store.ledger import Ledger
from broadcaster.store.personal import key_status, rekey
from broadcaster.store.retention import purge_recipients
from broadcaster.store.sealed import attach, raw
from broadcaster.store.users import Role, Users
from tests.canaries import canary, canary_totp
from tests.conftest import POSTGRES_ADMIN_URL
from tests.contract.test_store_contract import _alert, _dispatch

KEY_A = canary("privacy-key-a", 16)
KEY_B = canary("privacy-key-b", 16)
LINE_ID = "U" + "3f" * 16
EMAIL = "hanako.noto@example.jp"
PHONE = "07685200123"
PUSH = '{"endpoint": "https://fcm.googleapis.com/fcm/send/abc", "keys": {"p256dh": "BP", "auth": "x"}}'


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Ledger]:
    """A migrated ledger; on PostgreSQL a database of its own (other suites may run alongside)."""
    name = f"privacy_{uuid.uuid4().hex[:10]}"
    admin = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}"
    else:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    store = Ledger.connect(url)
    try:
        await migrate.upgrade(store.db)
        await store.ensure_tenants([("anamizu", "穴水町"), ("wajima", "輪島市")])
        yield store
    finally:
        await store.close()
        if request.param != "sqlite":
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()


async def _raw_addresses(ledger: Ledger) -> list[str]:
    e = t.subscriber_endpoints
    return list(await ledger.db.read(lambda c: list(c.execute(sa.select(raw(e.c.address))).scalars())))


async def _person(ledger: Ledger) -> Audiences:
    aud = Audiences(ledger.db)
    await aud.add(
        "anamizu",
        external_ref="R-77",
        name="能登花子",
        districts=["kawashima"],
        topics=["津波"],
        endpoints={"line": LINE_ID, "email": EMAIL, "phone": PHONE, "app_push": PUSH},
    )
    return aud


async def test_addresses_are_sealed_at_rest_and_found_by_their_keyed_hash(ledger: Ledger) -> None:
    attach(ledger.db, FieldCipher(KEY_A))
    aud = await _person(ledger)
    stored = await _raw_addresses(ledger)
    assert len(stored) == 4 and all(is_sealed(v) for v in stored)
    assert not any(clear in v for v in stored for clear in (LINE_ID, EMAIL, PHONE, "fcm.googleapis"))
    assert [r.address for r in await aud.recipients("anamizu", "public", "line")] == [LINE_ID]
    assert [p.external_id for p in await aud.by_endpoint("anamizu", "line", LINE_ID)] == ["R-77"]
    assert dict((await aud.person("anamizu", "R-77")).endpoints)["phone"] == PHONE  # type: ignore[union-attr]
    assert await aud.remove_endpoint("anamizu", "email", EMAIL) == 1
    assert len(await _raw_addresses(ledger)) == 3


async def test_a_process_without_the_key_refuses_sealed_data_instead_of_misreading_it(ledger: Ledger) -> None:
    attach(ledger.db, FieldCipher(KEY_A))
    aud = await _person(ledger)
    attach(ledger.db, None)
    with pytest.raises(SealedDataError, match="no data key"):
        await aud.recipients("anamizu", "public", "line")
    attach(ledger.db, FieldCipher(KEY_B))
    with pytest.raises(SealedDataError, match="not configured"):
        await aud.recipients("anamizu", "public", "line")


async def test_a_sealed_value_moved_to_another_column_does_not_open(ledger: Ledger) -> None:
    attach(ledger.db, FieldCipher(KEY_A))
    await _person(ledger)
    users = Users(ledger.db)
    uid = await users.add("tanaka", display_name="田中", home_tenant="anamizu", password_hash="x", totp_secret=canary_totp(), roles={"anamizu": Role.OPERATOR})
    stolen = (await _raw_addresses(ledger))[0]
    await ledger.db.write(lambda c: c.execute(t.users.update().where(t.users.c.id == uid).values(totp_secret=stolen)))
    with pytest.raises(SealedDataError, match="altered or moved"):
        await users.by_username("tanaka")


async def test_officers_totp_secrets_and_phones_are_sealed(ledger: Ledger) -> None:
    attach(ledger.db, FieldCipher(KEY_A))
    users = Users(ledger.db)
    secret = canary_totp()
    await users.add("sato", display_name="佐藤", home_tenant="anamizu", password_hash="x", totp_secret=secret, roles={"anamizu": Role.APPROVER}, phone=PHONE)
    u = t.users
    stored = await ledger.db.read(lambda c: c.execute(sa.select(raw(u.c.totp_secret), raw(u.c.phone))).one())
    assert all(is_sealed(v) for v in stored) and secret not in str(stored) and PHONE not in str(stored)
    record = await users.by_username("sato")
    assert record is not None and record.totp_secret == secret


async def test_dispatch_recipients_are_sealed_as_one_value_and_read_back(ledger: Ledger) -> None:
    attach(ledger.db, FieldCipher(KEY_A))
    alert = _alert("a-sealed")
    await ledger.record_alert(alert)
    d = _dispatch(alert, recipients=(LINE_ID, "U" + "00" * 16))
    await ledger.record_dispatches(alert, [d])
    stored = await ledger.db.read(lambda c: c.execute(sa.select(raw(t.dispatches.c.data))).scalar_one())
    assert stored["recipients"] == [] and is_sealed(stored["sealed_recipients"])
    assert LINE_ID not in str(stored)
    assert (await ledger.dispatches_of("anamizu", ["a-sealed"]))[0].recipients == d.recipients


async def test_rotation_reseals_everything_under_the_new_key(ledger: Ledger) -> None:
    # Written before any key was configured (an existing deployment), then under key A.
    attach(ledger.db, None)
    await Audiences(ledger.db).add("anamizu", external_ref="R-1", endpoints={"line": LINE_ID})
    attach(ledger.db, FieldCipher(KEY_A))
    await _person(ledger)
    alert = _alert("a-rot")
    await ledger.record_alert(alert)
    await ledger.record_dispatches(alert, [_dispatch(alert, recipients=(LINE_ID,))])
    a = FieldCipher(KEY_A)
    before = await key_status(ledger.db)
    assert before.columns["subscriber_endpoints.address"] == {"clear": 1, a.key_id: 4}

    b = FieldCipher(KEY_B, previous=[KEY_A])
    attach(ledger.db, b)
    report = await rekey(ledger.db, b, batch=2)
    assert report.resealed["subscriber_endpoints.address"] == 5
    assert report.resealed["dispatches.data"] == 1
    after = await key_status(ledger.db)
    for column, counts in after.columns.items():
        assert set(counts) <= {b.key_id}, column
    assert (await rekey(ledger.db, b)).resealed["subscriber_endpoints.address"] == 0, "a second run has nothing to do"

    # Key A can go now: everything opens with B alone.
    attach(ledger.db, FieldCipher(KEY_B))
    assert {r.address for r in await Audiences(ledger.db).recipients("anamizu", "public", "line")} == {LINE_ID}
    assert (await ledger.dispatches_of("anamizu", ["a-rot"]))[0].recipients == (LINE_ID,)


async def _aged(ledger: Ledger, identifier: str, *, days: float, state: str = "accepted") -> None:
    then = now() - timedelta(days=days)

    def work(c: sa.Connection) -> None:
        c.execute(t.alerts.update().where(t.alerts.c.identifier == identifier).values(received=then))
        c.execute(
            t.dispatches.update().where(t.dispatches.c.alert_id == identifier).values(created=then, state=state)
        )

    await ledger.db.write(work)


async def test_retention_purges_recipients_of_final_dispatches_of_quiet_events(ledger: Ledger) -> None:
    attach(ledger.db, FieldCipher(KEY_A))
    people = tuple(f"U{n:032x}" for n in range(7))
    cases: dict[str, dict[str, Any]] = {
        "old": {"days": 120},
        "old-dead": {"days": 120, "state": "dead"},
        "old-held": {"days": 120, "state": "held"},  # not final: kept
        "recent": {"days": 10},
        "old-but-event-active": {"days": 120, "event": "ev-live"},
        "old-website": {"days": 120, "channel": "website"},
    }
    for ident, case in cases.items():
        alert = _alert(ident, event=case.get("event", f"ev-{ident}"))
        await ledger.record_alert(alert)
        channel = case.get("channel", "line")
        await ledger.record_dispatches(alert, [_dispatch(alert, channel=channel, recipients=() if channel == "website" else people)])
        await _aged(ledger, ident, days=case["days"], state=case.get("state", "accepted"))
    # A new message of the event keeps the whole event's lists: a cancel must reach them.
    follow_up = _alert("live-update", event="ev-live", msg="Update", refs=("anamizu@broadcaster,old-but-event-active,2026-01-01T00:00:00+09:00",))
    await ledger.record_alert(follow_up)

    dry = await purge_recipients(ledger, older_than=timedelta(days=90), dry_run=True)
    assert (dry.dispatches, dry.recipients, dry.marked) == (2, 14, 1)
    assert len((await ledger.dispatches_of("anamizu", ["old"]))[0].recipients) == 7, "a dry run changes nothing"

    report = await purge_recipients(ledger, older_than=timedelta(days=90))
    assert (report.dispatches, report.recipients, report.marked, report.waiting) == (2, 14, 1, 2)
    for ident, kept in {"old": 0, "old-dead": 0, "old-held": 7, "recent": 7, "old-but-event-active": 7}.items():
        assert len((await ledger.dispatches_of("anamizu", [ident]))[0].recipients) == kept, ident
    stored = await ledger.db.read(
        lambda c: c.execute(sa.select(raw(t.dispatches.c.data)).where(t.dispatches.c.alert_id == "old")).scalar_one()
    )
    assert stored["recipients"] == [] and "sealed_recipients" not in stored
    # What was sent, when and to how many stays.
    rows = await reports.channel_table(ledger, tenant="anamizu", alert_id="old")
    assert rows[0].recipients == 7 and rows[0].accepted == 1
    again = await purge_recipients(ledger, older_than=timedelta(days=90))
    assert (again.dispatches, again.marked) == (0, 0), "running it again finds nothing more"
    audit = await ledger.db.read(
        lambda c: c.execute(sa.select(t.audit_log.c.actor, t.audit_log.c.detail).where(t.audit_log.c.action == "retention_purge")).all()
    )
    assert len(audit) == 1 and audit[0].actor == "system:retention" and audit[0].detail["recipients"] == 14


async def test_leaving_deletes_every_personal_field_of_the_person(ledger: Ledger) -> None:
    attach(ledger.db, FieldCipher(KEY_A))
    aud = await _person(ledger)
    assert await aud.leave("anamizu", "R-77")

    def rows(c: sa.Connection) -> dict[str, Any]:
        s = t.subscribers
        sid = c.execute(sa.select(s.c.id).where(s.c.external_ref == "R-77")).scalar_one()
        left = c.execute(sa.select(s).where(s.c.id == sid)).one()
        children = {
            table.name: c.execute(sa.select(sa.func.count()).select_from(table).where(table.c.subscriber_id == sid)).scalar()
            for table in (t.subscriber_endpoints, t.subscriber_districts, t.subscriber_topics, t.subscriber_groups)
        }
        counts = c.execute(sa.select(sa.func.count()).select_from(t.audience_counts).where(t.audience_counts.c.tenant == "anamizu")).scalar()
        return {"row": left, "children": children, "counts": counts}

    found = await ledger.db.read(rows)
    assert set(found["children"].values()) == {0}
    row = found["row"]
    assert (row.name, row.title, row.left_at is not None, row.active, row.topics) == (None, None, True, False, [])
    assert found["counts"] == 0


async def test_a_household_address_is_sealed_and_goes_when_the_person_leaves(ledger: Ledger) -> None:
    attach(ledger.db, FieldCipher(KEY_A))
    aud = Audiences(ledger.db)
    await aud.import_people(
        "anamizu",
        [Person("R-88", districts=("kawashima",), household="k-7", address="川島7-7", endpoints=(("phone", PHONE),))],
    )
    s = t.subscribers
    stored = await ledger.db.read(
        lambda c: c.execute(sa.select(raw(s.c.address)).where(s.c.external_ref == "R-88")).scalar_one()
    )
    assert is_sealed(stored) and "川島" not in stored
    person = await aud.person("anamizu", "R-88")
    assert person is not None and (person.household, person.address) == ("k-7", "川島7-7")
    assert (await key_status(ledger.db)).columns["subscribers.address"] == {FieldCipher(KEY_A).key_id: 1}
    assert await aud.leave("anamizu", "R-88")
    left = await ledger.db.read(
        lambda c: c.execute(sa.select(s.c.household, raw(s.c.address)).where(s.c.external_ref == "R-88")).one()
    )
    assert tuple(left) == (None, None)


async def test_the_migration_builds_the_privacy_columns_of_tables_py(ledger: Ledger) -> None:
    # SQLite keeps VARCHAR(40) for users.phone: it does not enforce lengths, and changing a type
    # there means rebuilding the table, which the migration avoids.
    names = ("recipients_purged", "recipient_count", "'address'", "totp_secret", "'household'", "reach_marks",
             "coverage_flags", "endpoints_by_hash", "safety_answers", "support_")
    if ledger.dialect == "postgresql":
        names += ("'phone'",)

    def diff(c: sa.Connection) -> list[Any]:
        mc = MigrationContext.configure(c, opts={"compare_type": True})
        return [d for d in compare_metadata(mc, t.metadata) if any(name in str(d) for name in names)]

    assert await ledger.db.read(diff) == []
