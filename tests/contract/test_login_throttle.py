"""Login limits on both databases: counted before a guess is heard, never a way to shut an officer out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from broadcaster.store.db import Database
from broadcaster.store.ledger import Ledger
from broadcaster.store.login_throttle import Limits, LoginThrottle

T0 = datetime(2026, 1, 1, 16, 10, tzinfo=UTC)
LIMITS = Limits()


@pytest.fixture
async def handles(ledger: Ledger) -> AsyncIterator[list[Database]]:
    """Several handles on the one database, as several web processes hold (SQLite: separate
    connections to the file, each with its own writer; PostgreSQL: one pool of connections)."""
    if ledger.db.dialect == "sqlite":
        extra = [Database.connect(ledger.db.url) for _ in range(3)]
        yield [ledger.db, *extra]
        for db in extra:
            await db.close()
    else:
        yield [ledger.db]


async def test_twelve_parallel_guesses_are_not_all_heard(handles: list[Database]) -> None:
    throttles = [LoginThrottle(db) for db in handles]
    admissions = await asyncio.gather(
        *(throttles[i % len(throttles)].admit("sato", "203.0.113.9", T0) for i in range(12))
    )
    heard = [a for a in admissions if a.heard]
    assert len(heard) == LIMITS.pair_free, [a.reason for a in admissions]
    assert {a.reason for a in admissions if not a.heard} == {"pair"}


async def test_waits_grow_and_end(ledger: Ledger) -> None:
    throttle = LoginThrottle(ledger.db)
    for _ in range(LIMITS.pair_free):
        assert (await throttle.admit("sato", "203.0.113.9", T0)).heard
    assert not (await throttle.admit("sato", "203.0.113.9", T0 + timedelta(seconds=59))).heard
    assert (await throttle.admit("sato", "203.0.113.9", T0 + timedelta(seconds=61))).heard
    # the next failure doubles the wait
    at = T0 + timedelta(seconds=61)
    assert not (await throttle.admit("sato", "203.0.113.9", at + timedelta(seconds=119))).heard
    assert (await throttle.admit("sato", "203.0.113.9", at + timedelta(seconds=121))).heard


async def test_one_address_does_not_slow_the_name_at_another(ledger: Ledger) -> None:
    throttle = LoginThrottle(ledger.db)
    for _ in range(LIMITS.pair_free + 3):
        await throttle.admit("sato", "203.0.113.9", T0)
    assert (await throttle.admit("sato", "198.51.100.20", T0)).heard


async def test_an_address_that_guesses_many_names_waits(ledger: Ledger) -> None:
    throttle = LoginThrottle(ledger.db)
    results = [await throttle.admit(f"name{i}", "203.0.113.9", T0) for i in range(LIMITS.address_free + 2)]
    assert sum(a.heard for a in results) == LIMITS.address_free
    assert results[-1].reason == "address"
    assert (await throttle.admit("name0", "198.51.100.20", T0)).heard, "another address is not slowed"


async def test_guessing_from_many_addresses_never_shuts_out_the_officer_at_a_known_network(
    ledger: Ledger,
) -> None:
    throttle = LoginThrottle(ledger.db)
    earlier = await throttle.admit("sato", "192.0.2.10", T0 - timedelta(days=3))
    await throttle.succeeded(earlier, T0 - timedelta(days=3))
    for i in range(40):  # a botnet: a few guesses each from many addresses
        await throttle.admit("sato", f"203.0.113.{i + 1}", T0)
    # guessing is now bounded: a new address is not heard ...
    assert (await throttle.admit("sato", "198.51.100.5", T0)).reason == "guarded"
    # ... but the officer at the town hall's network is
    at_hall = await throttle.admit("sato", "192.0.2.77", T0 + timedelta(seconds=1))
    assert at_hall.heard
    await throttle.succeeded(at_hall, T0 + timedelta(seconds=1))
    assert (await throttle.admit("sato", "198.51.100.5", T0 + timedelta(seconds=2))).reason == "guarded", (
        "the officer's success does not end the guard"
    )


async def test_a_second_officers_unlock_lets_the_officer_in_from_anywhere(ledger: Ledger) -> None:
    throttle = LoginThrottle(ledger.db)
    for i in range(LIMITS.account_guard):
        await throttle.admit("sato", f"203.0.113.{i + 1}", T0)
    for _ in range(LIMITS.pair_free):
        await throttle.admit("sato", "198.51.100.5", T0)
    assert not (await throttle.admit("sato", "198.51.100.5", T0)).heard
    assert await throttle.unlock("Sato ", T0) > 0
    assert (await throttle.admit("sato", "198.51.100.5", T0 + timedelta(seconds=1))).heard
    for i in range(LIMITS.account_guard):  # the guessing goes on
        await throttle.admit("sato", f"203.0.114.{i + 1}", T0 + timedelta(seconds=2))
    assert (await throttle.admit("sato", "198.51.100.7", T0 + timedelta(seconds=3))).heard
    later = T0 + LIMITS.lift_for + timedelta(seconds=1)
    assert (await throttle.admit("sato", "198.51.100.8", later)).reason == "guarded", (
        "the unlock lifts the guard for a while, not for good"
    )


async def test_a_success_gives_the_count_back(ledger: Ledger) -> None:
    throttle = LoginThrottle(ledger.db)
    for _ in range(LIMITS.pair_free - 1):
        await throttle.admit("sato", "192.0.2.10", T0)
    ok = await throttle.admit("sato", "192.0.2.10", T0)
    assert ok.heard
    await throttle.succeeded(ok, T0)
    for _ in range(LIMITS.pair_free):
        assert (await throttle.admit("sato", "192.0.2.10", T0 + timedelta(seconds=1))).heard


async def test_logins_and_guesses_of_one_name_at_once_never_deadlock(handles: list[Database]) -> None:
    """The officer logs in (and a colleague unlocks) while the name is guessed in parallel: every
    unit of work takes its row locks in one order, so none is aborted as a deadlock."""
    throttles = [LoginThrottle(db) for db in handles]

    async def officer(i: int) -> None:
        th = throttles[i % len(throttles)]
        adm = await th.admit("sato", f"192.0.2.{i + 1}", T0)
        if adm.heard:
            await th.succeeded(adm, T0)

    async def attacker(i: int) -> None:
        await throttles[i % len(throttles)].admit("sato", f"203.0.113.{i % 3 + 1}", T0)

    work = [officer(i) for i in range(8)] + [attacker(i) for i in range(24)]
    work += [throttles[0].unlock("sato", T0), throttles[-1].prune(T0)]
    await asyncio.gather(*work)


async def test_refused_attempts_add_nothing_and_old_rows_go(ledger: Ledger) -> None:
    import sqlalchemy as sa

    from broadcaster.store import tables as tb

    def rows(c: sa.Connection) -> int:
        return int(c.execute(sa.select(sa.func.count()).select_from(tb.login_throttle)).scalar() or 0)

    throttle = LoginThrottle(ledger.db)
    ok = await throttle.admit("sato", "192.0.2.10", T0)
    await throttle.succeeded(ok, T0)
    for i in range(LIMITS.account_guard):
        await throttle.admit("sato", f"203.0.113.{i + 1}", T0)
    before = await ledger.db.read(rows)
    for _ in range(30):  # guarded: not heard
        assert not (await throttle.admit("sato", "198.51.100.5", T0)).heard
    assert await ledger.db.read(rows) == before + 1, "only the new address's row"
    later = T0 + LIMITS.window + timedelta(minutes=1)
    assert await throttle.prune(later) > 0
    # the known network is remembered; everything else of that hour is gone
    assert (await throttle.admit("sato", "192.0.2.99", later)).heard
    assert await ledger.db.read(rows) == 4  # address, account, known, pair of this attempt
