"""Officers, their roles per tenant, console sessions and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum

import sqlalchemy as sa

from broadcaster.model import now
from broadcaster.store import tables as t
from broadcaster.store.db import Database


class Role(IntEnum):
    """Each role may do what the ones below it may."""

    VIEWER = 1
    OPERATOR = 2
    APPROVER = 3
    ADMIN = 4

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError as e:
            raise ValueError(f"unknown role {name!r}: viewer, operator, approver or admin") from e

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: an officer (through a session) or a system (through an API token)."""

    kind: str  # "user" | "token"
    id: int
    name: str
    display_name: str
    home_tenant: str
    roles: dict[str, Role] = field(default_factory=dict)
    csrf_token: str | None = None
    session_hash: str | None = None

    @property
    def identity(self) -> str:
        """As written into alerts and the audit log."""
        return f"officer:{self.home_tenant}/{self.name}" if self.kind == "user" else f"token:{self.home_tenant}/{self.name}"

    def role_in(self, tenant: str) -> Role | None:
        return self.roles.get(tenant)

    def may(self, tenant: str, role: Role) -> bool:
        held = self.roles.get(tenant)
        return held is not None and held >= role


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    display_name: str
    home_tenant: str
    password_hash: str
    totp_secret: str | None
    active: bool
    failed_logins: int
    locked_until: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Users:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        username: str,
        *,
        display_name: str,
        home_tenant: str,
        password_hash: str,
        totp_secret: str | None,
        roles: dict[str, Role],
        phone: str | None = None,
    ) -> int:
        def work(c: sa.Connection) -> int:
            uid = int(
                c.execute(
                    t.users.insert().values(
                        username=username,
                        display_name=display_name,
                        home_tenant=home_tenant,
                        password_hash=password_hash,
                        totp_secret=totp_secret,
                        phone=phone,
                        active=True,
                        created=now(),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            if roles:
                c.execute(
                    t.user_roles.insert(),
                    [{"user_id": uid, "tenant": tenant, "role": role.label} for tenant, role in roles.items()],
                )
            return uid

        return await self.db.write(work)

    async def grant(self, user_id: int, tenant: str, role: Role) -> None:
        def work(c: sa.Connection) -> None:
            c.execute(t.user_roles.delete().where(t.user_roles.c.user_id == user_id, t.user_roles.c.tenant == tenant))
            c.execute(t.user_roles.insert().values(user_id=user_id, tenant=tenant, role=role.label))

        await self.db.write(work)

    async def role_of(self, user_id: int, tenant: str) -> Role | None:
        def work(c: sa.Connection) -> Role | None:
            role = c.execute(
                sa.select(t.user_roles.c.role).where(t.user_roles.c.user_id == user_id, t.user_roles.c.tenant == tenant)
            ).scalar()
            return Role.parse(role) if role else None

        return await self.db.read(work)

    async def by_username(self, username: str) -> UserRecord | None:
        def work(c: sa.Connection) -> UserRecord | None:
            row = c.execute(
                sa.select(
                    t.users.c.id,
                    t.users.c.username,
                    t.users.c.display_name,
                    t.users.c.home_tenant,
                    t.users.c.password_hash,
                    t.users.c.totp_secret,
                    t.users.c.active,
                    t.users.c.failed_logins,
                    t.users.c.locked_until,
                ).where(t.users.c.username == username)
            ).first()
            return UserRecord(*row) if row else None

        return await self.db.read(work)

    async def roles_of(self, user_id: int) -> dict[str, Role]:
        def work(c: sa.Connection) -> dict[str, Role]:
            rows = c.execute(sa.select(t.user_roles).where(t.user_roles.c.user_id == user_id))
            return {r.tenant: Role.parse(r.role) for r in rows}

        return await self.db.read(work)

    async def officers_of(self, tenant: str) -> list[tuple[str, str, Role]]:
        """(username, display name, role) of everyone holding a role in the tenant."""

        def work(c: sa.Connection) -> list[tuple[str, str, Role]]:
            rows = c.execute(
                sa.select(t.users.c.username, t.users.c.display_name, t.user_roles.c.role)
                .select_from(t.users.join(t.user_roles, t.user_roles.c.user_id == t.users.c.id))
                .where(t.user_roles.c.tenant == tenant, t.users.c.active.is_(True))
                .order_by(t.users.c.username)
            )
            return [(r.username, r.display_name, Role.parse(r.role)) for r in rows]

        return await self.db.read(work)

    async def set_password(self, user_id: int, password_hash: str) -> None:
        await self.db.write(
            lambda c: c.execute(
                t.users.update().where(t.users.c.id == user_id).values(password_hash=password_hash)
            )
        )

    # -- sessions -----------------------------------------------------------------------------

    async def open_session(self, user_id: int, *, lifetime: timedelta, origin: str | None) -> tuple[str, str]:
        """A new session (never an old one reused: no fixation); returns (cookie token, CSRF token)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        at = now()

        def work(c: sa.Connection) -> None:
            # Expired sessions go whenever a new one comes.
            c.execute(t.web_sessions.delete().where(t.web_sessions.c.expires < at))
            c.execute(
                t.web_sessions.insert().values(
                    token_hash=token_hash(token),
                    user_id=user_id,
                    csrf_token=csrf,
                    created=at,
                    last_seen=at,
                    expires=at + lifetime,
                    origin=(origin or "")[:200],
                )
            )

        await self.db.write(work)
        return token, csrf

    async def close_session(self, token: str) -> None:
        await self.db.write(lambda c: c.execute(t.web_sessions.delete().where(t.web_sessions.c.token_hash == token_hash(token))))

    async def principal_for_session(self, token: str, *, idle: timedelta) -> Principal | None:
        h = token_hash(token)
        at = now()

        def work(c: sa.Connection) -> Principal | None:
            row = c.execute(
                sa.select(
                    t.web_sessions.c.user_id,
                    t.web_sessions.c.csrf_token,
                    t.web_sessions.c.last_seen,
                    t.web_sessions.c.expires,
                    t.users.c.username,
                    t.users.c.display_name,
                    t.users.c.home_tenant,
                    t.users.c.active,
                )
                .select_from(t.web_sessions.join(t.users, t.users.c.id == t.web_sessions.c.user_id))
                .where(t.web_sessions.c.token_hash == h)
            ).first()
            if row is None or not row.active or row.expires < at or row.last_seen + idle < at:
                return None
            if at - row.last_seen > timedelta(minutes=1):
                c.execute(t.web_sessions.update().where(t.web_sessions.c.token_hash == h).values(last_seen=at))
            roles = {
                r.tenant: Role.parse(r.role)
                for r in c.execute(sa.select(t.user_roles).where(t.user_roles.c.user_id == row.user_id))
            }
            return Principal(
                kind="user",
                id=row.user_id,
                name=row.username,
                display_name=row.display_name,
                home_tenant=row.home_tenant,
                roles=roles,
                csrf_token=row.csrf_token,
                session_hash=h,
            )

        return await self.db.write(work)

    # -- API tokens ---------------------------------------------------------------------------

    async def create_token(self, tenant: str, name: str, role: Role) -> str:
        token = "bct_" + secrets.token_urlsafe(32)
        await self.db.write(
            lambda c: c.execute(
                t.api_tokens.insert().values(
                    tenant=tenant, name=name, token_hash=token_hash(token), role=role.label, created=now()
                )
            )
        )
        return token

    async def revoke_token(self, tenant: str, name: str) -> int:
        def work(c: sa.Connection) -> int:
            return c.execute(
                t.api_tokens.update()
                .where(t.api_tokens.c.tenant == tenant, t.api_tokens.c.name == name, t.api_tokens.c.revoked.is_(None))
                .values(revoked=now())
            ).rowcount

        return await self.db.write(work)

    async def principal_for_token(self, token: str) -> Principal | None:
        def work(c: sa.Connection) -> Principal | None:
            row = c.execute(
                sa.select(t.api_tokens).where(t.api_tokens.c.token_hash == token_hash(token), t.api_tokens.c.revoked.is_(None))
            ).first()
            if row is None:
                return None
            # A token acts for its own tenant only.
            return Principal(
                kind="token",
                id=row.id,
                name=row.name,
                display_name=row.name,
                home_tenant=row.tenant,
                roles={row.tenant: Role.parse(row.role)},
            )

        return await self.db.read(work)
