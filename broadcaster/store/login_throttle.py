"""Failed logins counted in the database: per address, per name at an address, per name.

The lockout must stop guessing without becoming a way to shut an officer out (docs/security.md,
*Logins*). Four counts, one row each, shared by every web process:

* **address**: failures from one address (IPv6: its /64), whatever the name. Past the free
  failures the address waits, longer each time.
* **pair**: failures for one name from one address. Past the free failures that pair waits,
  longer each time; a name at *another* address is not slowed by it.
* **account**: failures for one name from anywhere. It never locks; past the guard, only
  networks the officer has logged in from before ("known") are heard, so guessing from many
  addresses stays bounded while the officer at the town hall still gets in. A second officer may
  lift the guard for a while (`unlock`).
* **known**: when the name last logged in from a network (IPv4 /24, IPv6 /48).

An attempt is counted *before* its password is checked, in the transaction that decides whether it
is heard, and refunded when it succeeds: twelve parallel guesses cannot all be heard before the
first is counted. Unknown names are counted exactly like real ones, so the answers (and their
timing) do not tell whether a name exists. Keys are keyed hashes; no address or typed name is kept.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from broadcaster.store import tables as t
from broadcaster.store.db import Database

_KEY_PEPPER = b"broadcaster-login-throttle"


@dataclass(frozen=True, slots=True)
class Limits:
    # Failures from one address (any names) before it waits.
    address_free: int = 20
    # Failures for one name from one address before that pair waits.
    pair_free: int = 5
    # Failures for one name from all addresses past which only known networks are heard.
    account_guard: int = 10
    # The first wait; each further failure doubles it, up to `max_wait`.
    base_wait: timedelta = timedelta(minutes=1)
    max_wait: timedelta = timedelta(hours=1)
    # Failures older than this (counted from the last one) are forgotten.
    window: timedelta = timedelta(hours=1)
    # A network the officer logged in from stays known this long.
    known_for: timedelta = timedelta(days=90)
    # How long a second officer's unlock lifts the guard.
    lift_for: timedelta = timedelta(minutes=30)

    def wait(self, failures: int, free: int) -> timedelta | None:
        if failures < free:
            return None
        wait: timedelta = self.base_wait * (2 ** min(failures - free, 20))
        return min(wait, self.max_wait)


@dataclass(frozen=True, slots=True)
class Admission:
    heard: bool
    # "heard" | "address" | "pair" | "guarded": why an attempt was not heard (for the audit log)
    reason: str
    account: str
    pair: str
    address: str
    known: str


def _key(*parts: str) -> str:
    h = hashlib.blake2s(key=_KEY_PEPPER, digest_size=16)
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def account_key(username: str) -> str:
    return _key("account", username.strip().casefold())


def _networks(address: str) -> tuple[str, str]:
    """(the address as counted, its network for "known"); a name that is no IP counts as itself."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address, address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False)), str(
            ipaddress.ip_network(f"{ip}/48", strict=False)
        )
    return str(ip), str(ipaddress.ip_network(f"{ip}/24", strict=False))


def _insert_ignore(dialect: str) -> Callable[[], Any]:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return lambda: pg_insert(t.login_throttle).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return lambda: sqlite_insert(t.login_throttle).on_conflict_do_nothing()


class LoginThrottle:
    """Every unit of work here takes its row locks in one order, address, then account, then
    known, then pair, so two logins (or a login and an unlock) never wait on each other in a
    cycle. Rows for a name at an address are made only when an attempt is heard, so refused
    attempts add nothing to the table."""

    # One heard attempt in this many also clears rows with nothing left to remember.
    PRUNE_EVERY = 50

    def __init__(self, db: Database, limits: Limits | None = None) -> None:
        self.db = db
        self.limits = limits or Limits()
        self._insert = _insert_ignore(db.dialect)

    def _lock(self, c: sa.Connection, scope: str, key: str) -> Any:
        lt = t.login_throttle
        q = sa.select(lt).where(lt.c.scope == scope, lt.c.key == key)
        if c.dialect.name == "postgresql":
            q = q.with_for_update()
        return c.execute(q).first()

    def _ensure(self, c: sa.Connection, scope: str, key: str, account: str | None) -> Any:
        c.execute(self._insert(), [{"scope": scope, "key": key, "account": account, "failures": 0}])
        return self._lock(c, scope, key)

    async def admit(self, username: str, address: str, at: datetime) -> Admission:
        """Decide whether this attempt is heard; a heard attempt is counted as failed until
        `succeeded` refunds it."""
        lim = self.limits
        counted, network = _networks(address)
        account = account_key(username)
        adm = Admission(
            heard=False,
            reason="",
            account=account,
            pair=_key("pair", account, counted),
            address=_key("address", counted),
            known=_key("known", account, network),
        )
        lt = t.login_throttle

        def failures(row: Any) -> int:
            if row is None or row.last_failure is None or row.last_failure < at - lim.window:
                return 0
            return int(row.failures)

        def blocked(row: Any) -> bool:
            return row is not None and row.blocked_until is not None and row.blocked_until > at

        def count(c: sa.Connection, scope: str, key: str, n: int, free: int | None) -> None:
            wait = lim.wait(n, free) if free is not None else None
            c.execute(
                lt.update()
                .where(lt.c.scope == scope, lt.c.key == key)
                .values(failures=n, last_failure=at, blocked_until=at + wait if wait else None)
            )

        def work(c: sa.Connection) -> str:
            addr = self._ensure(c, "address", adm.address, None)
            if blocked(addr):
                return "address"
            acct = self._ensure(c, "account", account, account)
            known = self._lock(c, "known", adm.known)
            pair = self._lock(c, "pair", adm.pair)
            if blocked(pair):
                return "pair"
            lifted = acct.lifted_until is not None and acct.lifted_until > at
            is_known = (
                known is not None
                and known.last_success is not None
                and known.last_success > at - lim.known_for
            )
            if failures(acct) >= lim.account_guard and not is_known and not lifted:
                return "guarded"
            if pair is None:
                c.execute(
                    self._insert(), [{"scope": "pair", "key": adm.pair, "account": account, "failures": 0}]
                )
            # Counted before the password is checked: parallel guesses wait on these row locks.
            count(c, "address", adm.address, failures(addr) + 1, lim.address_free)
            count(c, "account", account, failures(acct) + 1, None)
            count(c, "pair", adm.pair, failures(pair) + 1, lim.pair_free)
            return "heard"

        reason = await self.db.write(work)
        if reason == "heard" and secrets.randbelow(self.PRUNE_EVERY) == 0:
            await self.prune(at)
        return Admission(reason == "heard", reason, adm.account, adm.pair, adm.address, adm.known)

    async def succeeded(self, adm: Admission, at: datetime) -> None:
        """The attempt proved password and code: its pair starts afresh, its network is known, and
        the address and the name get their count back (the name's other failures stay)."""
        lt = t.login_throttle
        lim = self.limits

        def work(c: sa.Connection) -> None:
            c.execute(
                lt.update()
                .where(lt.c.scope == "address", lt.c.key == adm.address, lt.c.failures > 0)
                .values(failures=lt.c.failures - 1)
            )
            c.execute(
                lt.update()
                .where(lt.c.scope == "address", lt.c.key == adm.address, lt.c.failures < lim.address_free)
                .values(blocked_until=None)
            )
            c.execute(
                lt.update()
                .where(lt.c.scope == "account", lt.c.key == adm.account, lt.c.failures > 0)
                .values(failures=lt.c.failures - 1)
            )
            self._ensure(c, "known", adm.known, adm.account)
            c.execute(lt.update().where(lt.c.scope == "known", lt.c.key == adm.known).values(last_success=at))
            c.execute(
                lt.update()
                .where(lt.c.scope == "pair", lt.c.key == adm.pair)
                .values(failures=0, blocked_until=None)
            )

        await self.db.write(work)
        await self.prune(at)

    async def prune(self, at: datetime, limit: int = 500) -> int:
        """Remove rows with nothing left to remember (known networks stay for `known_for`); rows
        another login holds are left for next time, so pruning never waits on a login."""
        lt = t.login_throttle
        lim = self.limits

        def work(c: sa.Connection) -> int:
            q = (
                sa.select(lt.c.scope, lt.c.key)
                .where(
                    sa.or_(lt.c.last_failure.is_(None), lt.c.last_failure < at - lim.window),
                    sa.or_(lt.c.blocked_until.is_(None), lt.c.blocked_until < at),
                    sa.or_(lt.c.last_success.is_(None), lt.c.last_success < at - lim.known_for),
                    sa.or_(lt.c.lifted_until.is_(None), lt.c.lifted_until < at),
                )
                .limit(limit)
            )
            if c.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            gone = [(r.scope, r.key) for r in c.execute(q)]
            for scope in {s for s, _ in gone}:
                keys = [k for s, k in gone if s == scope]
                c.execute(lt.delete().where(lt.c.scope == scope, lt.c.key.in_(keys)))
            return len(gone)

        return await self.db.write(work)

    async def unlock(self, username: str, at: datetime) -> int:
        """A second officer's unlock: the name's waits end, and for `lift_for` it is heard from any
        network (its pairs still count). Returns the rows changed."""
        lt = t.login_throttle
        account = account_key(username)

        def work(c: sa.Connection) -> int:
            self._ensure(c, "account", account, account)
            n = c.execute(
                lt.update()
                .where(lt.c.scope == "account", lt.c.key == account)
                .values(failures=0, lifted_until=at + self.limits.lift_for)
            ).rowcount
            n += c.execute(
                lt.update()
                .where(lt.c.account == account, lt.c.scope == "pair")
                .values(failures=0, blocked_until=None)
            ).rowcount
            return int(n)

        return await self.db.write(work)


@dataclass(frozen=True, slots=True)
class NameState:
    failures: int  # failed logins in the window, from anywhere
    guarded: bool  # heard only from known networks
    lifted_until: datetime | None  # a second officer's unlock, while it lasts


async def states(
    db: Database, usernames: list[str], at: datetime, limits: Limits | None = None
) -> dict[str, NameState]:
    """How each name stands (the console's page for a second officer)."""
    lim = limits or Limits()
    keys = {account_key(u): u for u in usernames}
    lt = t.login_throttle

    def work(c: sa.Connection) -> dict[str, NameState]:
        rows = c.execute(sa.select(lt).where(lt.c.scope == "account", lt.c.key.in_(list(keys))))
        out = {u: NameState(0, False, None) for u in usernames}
        for r in rows:
            n = 0 if r.last_failure is None or r.last_failure < at - lim.window else int(r.failures)
            lifted = r.lifted_until if r.lifted_until is not None and r.lifted_until > at else None
            out[keys[r.key]] = NameState(n, n >= lim.account_guard and lifted is None, lifted)
        return out

    return await db.read(work)
