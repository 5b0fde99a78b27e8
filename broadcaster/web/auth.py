"""Authentication: argon2 password hashes, a TOTP second factor, limits against guessing."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from broadcaster.model import now
from broadcaster.store.login_throttle import Limits, LoginThrottle
from broadcaster.store.users import UserRecord, Users

_hasher = PasswordHasher()
# Hashing a password no account has costs the same as a real check, so that the time a failed
# login takes does not tell whether the name exists.
_DUMMY_HASH = _hasher.hash("an-account-that-does-not-exist")

MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str, issuer: str = "broadcaster") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


class _TotpReplay:
    """A code that worked once is refused for the rest of its window (no replay from a shoulder)."""

    def __init__(self) -> None:
        self._used: dict[tuple[int, str], float] = {}

    def seen(self, user_id: int, code: str) -> bool:
        cutoff = time.monotonic() - 120
        self._used = {k: v for k, v in self._used.items() if v > cutoff}
        if (user_id, code) in self._used:
            return True
        self._used[(user_id, code)] = time.monotonic()
        return False


class RateLimiter:
    """At most `limit` events per `window` seconds per key (an IP address), in memory."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        at = time.monotonic()
        q = self._events.setdefault(key, deque())
        while q and q[0] < at - self.window:
            q.popleft()
        if len(q) >= self.limit:
            return False
        q.append(at)
        return True


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: UserRecord | None
    reason: str  # "ok" | "bad_credentials" | "locked" | "rate_limited" | "inactive"
    # why a refused attempt was not heard: "address" | "pair" | "guarded" (for the audit log only)
    refused_by: str | None = None


class Authenticator:
    """Checks a login. Every refusal looks the same to the person at the form, and the same for a
    name that exists and one that does not (docs/security.md, *Logins*)."""

    def __init__(self, users: Users, *, per_ip_per_minute: int = 20, limits: Limits | None = None) -> None:
        self.users = users
        # A flood guard in memory before anything touches the database.
        self.ip_limiter = RateLimiter(per_ip_per_minute, 60.0)
        self.throttle = LoginThrottle(users.db, limits)
        self._replay = _TotpReplay()

    async def login(self, username: str, password: str, code: str, *, ip: str) -> LoginResult:
        if not self.ip_limiter.allow(ip):
            return LoginResult(None, "rate_limited", "address")
        name = username.strip()
        admission = await self.throttle.admit(name, ip, now())
        if not admission.heard:
            return LoginResult(None, "locked", admission.reason)
        user = await self.users.by_username(name)
        if user is None:
            # Hashing a password no account has costs the same as a real check.
            await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
            return LoginResult(None, "bad_credentials")
        ok = await asyncio.to_thread(verify_password, user.password_hash, password) and self._totp_ok(
            user, code
        )
        if not ok:
            return LoginResult(None, "bad_credentials")
        if not user.active:
            return LoginResult(None, "inactive")
        await self.throttle.succeeded(admission, now())
        return LoginResult(user, "ok")

    async def unlock(self, username: str) -> int:
        return await self.throttle.unlock(username, now())

    def _totp_ok(self, user: UserRecord, code: str) -> bool:
        if not user.totp_secret:
            return False  # every officer has a second factor; an account without one cannot log in
        code = code.strip().replace(" ", "")
        if not code.isdigit() or not pyotp.TOTP(user.totp_secret).verify(code, valid_window=1):
            return False
        return not self._replay.seen(user.id, code)
