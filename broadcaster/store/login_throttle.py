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
    def __init__(self, db: Database, limits: Limits | None = None) -> None:
        self.db = db
        self.limits = limits or Limits()
        self._insert = _insert_ignore(db.dialect)

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
        keys = [
            ("account", adm.account, account),
            ("address", adm.address, None),
            ("known", adm.known, account),
            ("pair", adm.pair, account),
        ]
        lt = t.login_throttle

        def work(c: sa.Connection) -> str:
            c.execute(
                self._insert(), [{"scope": s, "key": k, "account": a, "failures": 0} for s, k, a in keys]
            )
            # Rows locked in one order (scope, key): two logins never wait on each other in a cycle.
            query = sa.select(lt).where(sa.tuple_(lt.c.scope, lt.c.key).in_([(s, k) for s, k, _ in keys]))
            if c.dialect.name == "postgresql":
                query = query.order_by(lt.c.scope, lt.c.key).with_for_update()
            rows = {r.scope: r for r in c.execute(query)}

            def failures(scope: str) -> int:
                r = rows[scope]
                if r.last_failure is None or r.last_failure < at - lim.window:
                    return 0
                return int(r.failures)

            def blocked(scope: str) -> bool:
                until = rows[scope].blocked_until
                return until is not None and until > at

            if blocked("address"):
                return "address"
            if blocked("pair"):
                return "pair"
            acct = rows["account"]
            lifted = acct.lifted_until is not None and acct.lifted_until > at
            last_known = rows["known"].last_success
            known = last_known is not None and last_known > at - lim.known_for
            if failures("account") >= lim.account_guard and not known and not lifted:
                return "guarded"
            for scope, free in (("address", lim.address_free), ("pair", lim.pair_free), ("account", None)):
                n = failures(scope) + 1
                wait = lim.wait(n, free) if free is not None else None
                c.execute(
                    lt.update()
                    .where(lt.c.scope == scope, lt.c.key == rows[scope].key)
                    .values(failures=n, last_failure=at, blocked_until=at + wait if wait else None)
                )
            return "heard"

        reason = await self.db.write(work)
        return Admission(reason == "heard", reason, adm.account, adm.pair, adm.address, adm.known)

    async def succeeded(self, adm: Admission, at: datetime) -> None:
        """The attempt proved password and code: its pair starts afresh, its network is known, and
        the address and the name get their count back (the name's other failures stay)."""
        lt = t.login_throttle
        lim = self.limits

        def work(c: sa.Connection) -> None:
            c.execute(
                lt.update()
                .where(lt.c.scope == "pair", lt.c.key == adm.pair)
                .values(failures=0, blocked_until=None, last_success=at)
            )
            c.execute(lt.update().where(lt.c.scope == "known", lt.c.key == adm.known).values(last_success=at))
            c.execute(
                lt.update()
                .where(
                    lt.c.scope.in_(("address", "account")),
                    lt.c.key.in_((adm.address, adm.account)),
                    lt.c.failures > 0,
                )
                .values(failures=lt.c.failures - 1)
            )
            c.execute(
                lt.update()
                .where(lt.c.scope == "address", lt.c.key == adm.address, lt.c.failures < lim.address_free)
                .values(blocked_until=None)
            )
            # Rows with nothing left to remember go; known networks stay for `known_for`.
            c.execute(
                lt.delete().where(
                    sa.or_(lt.c.last_failure.is_(None), lt.c.last_failure < at - lim.window),
                    sa.or_(lt.c.blocked_until.is_(None), lt.c.blocked_until < at),
                    sa.or_(lt.c.last_success.is_(None), lt.c.last_success < at - lim.known_for),
                    sa.or_(lt.c.lifted_until.is_(None), lt.c.lifted_until < at),
                )
            )

        await self.db.write(work)

    async def unlock(self, username: str, at: datetime) -> int:
        """A second officer's unlock: the name's waits end, and for `lift_for` it is heard from any
        network (its pairs still count). Returns the rows changed."""
        lt = t.login_throttle
        account = account_key(username)

        def work(c: sa.Connection) -> int:
            n = c.execute(
                lt.update()
                .where(lt.c.account == account, lt.c.scope == "pair")
                .values(failures=0, blocked_until=None)
            ).rowcount
            c.execute(
                self._insert(), [{"scope": "account", "key": account, "account": account, "failures": 0}]
            )
            n += c.execute(
                lt.update()
                .where(lt.c.scope == "account", lt.c.key == account)
                .values(failures=0, lifted_until=at + self.limits.lift_for)
            ).rowcount
            return int(n)

        return await self.db.write(work)


@dataclass(frozen=True, slots=True)
class NameState:
    failures: int  # failed logins in the window, from anywhere
    guarded: bool  # heard only from known networks
    lifted_until: datetime | None  # a second officer's unlock, while it lasts


async def states(db: Database, usernames: list[str], at: datetime, limits: Limits | None = None) -> dict[str, NameState]:
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
