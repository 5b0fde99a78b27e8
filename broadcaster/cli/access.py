"""`broadcaster users|tokens|audit`: who may use the console and the API, and what they did."""

from __future__ import annotations

import sys

import click

from broadcaster.cli.context import require_tenant, settings, with_ledger
from broadcaster.errors import ConfigError
from broadcaster.store.ledger import Ledger


@click.group("users")
def users() -> None:
    """Officers of the console: add them, give them roles."""


@users.command("add")
@click.argument("username")
@click.option("--tenant", required=True, help="The officer's own municipality.")
@click.option("--role", default="operator", show_default=True, help="viewer, operator, approver or admin.")
@click.option("--name", "display_name", help="Name shown in the console and the audit log.")
@click.option("--phone", help="For escalations (shown to duty officers only).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def users_add(
    ctx: click.Context, username: str, tenant: str, role: str, display_name: str | None, phone: str | None, password_stdin: bool
) -> None:
    """Add an officer; prints the second-factor secret once, to put in an authenticator app."""
    from broadcaster.store.users import Role, Users
    from broadcaster.web.auth import hash_password, new_totp_secret, totp_uri

    loaded = settings(ctx)
    require_tenant(loaded, tenant)
    try:
        role_value = Role.parse(role)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    password = sys.stdin.readline().rstrip("\n") if password_stdin else click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        pw_hash = hash_password(password)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    secret = new_totp_secret()

    async def work(ledger: Ledger) -> int:
        uid: int = await Users(ledger.db).add(
            username, display_name=display_name or username, home_tenant=tenant, password_hash=pw_hash,
            totp_secret=secret, roles={tenant: role_value}, phone=phone,
        )
        await ledger.audit(actor="cli", action="user_added", tenant=tenant, target=username, detail={"role": role_value.label})
        return uid

    uid = with_ledger(loaded, work, tenants=True)
    click.echo(f"added {username} (id {uid}) as {role_value.label} of {tenant}")
    click.echo(f"second factor secret: {secret}")
    click.echo(f"authenticator link:   {totp_uri(secret, username)}")


@users.command("grant")
@click.argument("username")
@click.option("--tenant", required=True)
@click.option("--role", required=True)
@click.pass_context
def users_grant(ctx: click.Context, username: str, tenant: str, role: str) -> None:
    """Give an officer a role in a tenant (a neighbour's officer covering a stricken town)."""
    from broadcaster.store.users import Role, Users

    loaded = settings(ctx)
    require_tenant(loaded, tenant)
    role_value = Role.parse(role)

    async def work(ledger: Ledger) -> None:
        store = Users(ledger.db)
        user = await store.by_username(username)
        if user is None:
            raise ConfigError(f"no user {username!r}")
        if user.home_tenant != tenant and user.home_tenant not in loaded.tenants[tenant].delegates:
            raise ConfigError(
                f"{user.home_tenant} is not among {tenant}'s delegates: add it to the tenant's `delegates` first"
            )
        await store.grant(user.id, tenant, role_value)
        await ledger.audit(actor="cli", action="role_granted", tenant=tenant, target=username, detail={"role": role_value.label, "home": user.home_tenant})

    with_ledger(loaded, work)
    click.echo(f"{username} is now {role_value.label} of {tenant}")


@users.command("unlock")
@click.argument("username")
@click.option(
    "--by",
    "by",
    required=True,
    help="The second officer who unlocks (an approver or admin where USERNAME holds a role).",
)
@click.pass_context
def users_unlock(ctx: click.Context, username: str, by: str) -> None:
    """End an officer's login waits and hear them from any network for 30 minutes (docs/security.md)."""
    from broadcaster.store.login_throttle import LoginThrottle
    from broadcaster.store.users import Role, Users

    loaded = settings(ctx)

    async def work(ledger: Ledger) -> int:
        store = Users(ledger.db)
        user = await store.by_username(username)
        second = await store.by_username(by)
        if user is None or second is None or not second.active:
            raise ConfigError(f"no officer {username if user is None else by!r}")
        if second.id == user.id:
            raise ConfigError("an officer cannot unlock themselves: a second officer does")
        theirs = await store.roles_of(user.id)
        mine = await store.roles_of(second.id)
        if not any(mine.get(tenant, Role.VIEWER) >= Role.APPROVER for tenant in theirs):
            raise ConfigError(f"{by} is not an approver or admin of a town where {username} holds a role")
        from broadcaster.model import now

        n = await LoginThrottle(ledger.db).unlock(username, now())
        await ledger.audit(
            actor=f"officer:{second.home_tenant}/{second.username}",
            action="login_unlocked",
            tenant=user.home_tenant,
            target=username,
            origin="cli",
        )
        return n

    with_ledger(loaded, work)
    click.echo(f"{username} may log in from any network for the next 30 minutes")


@click.group("tokens")
def tokens() -> None:
    """API tokens for the town's other systems, one per system and tenant."""


@tokens.command("create")
@click.argument("name")
@click.option("--tenant", required=True)
@click.option("--role", default="viewer", show_default=True)
@click.pass_context
def tokens_create(ctx: click.Context, name: str, tenant: str, role: str) -> None:
    """Create a token; it is printed once and stored only as a hash."""
    from broadcaster.store.users import Role, Users

    loaded = settings(ctx)
    require_tenant(loaded, tenant)
    role_value = Role.parse(role)

    async def work(ledger: Ledger) -> str:
        token: str = await Users(ledger.db).create_token(tenant, name, role_value)
        await ledger.audit(actor="cli", action="token_created", tenant=tenant, target=name, detail={"role": role_value.label})
        return token

    click.echo(with_ledger(loaded, work, tenants=True))


@tokens.command("revoke")
@click.argument("name")
@click.option("--tenant", required=True)
@click.pass_context
def tokens_revoke(ctx: click.Context, name: str, tenant: str) -> None:
    from broadcaster.store.users import Users

    loaded = settings(ctx)

    async def work(ledger: Ledger) -> int:
        n: int = await Users(ledger.db).revoke_token(tenant, name)
        await ledger.audit(actor="cli", action="token_revoked", tenant=tenant, target=name)
        return n

    n = with_ledger(loaded, work)
    click.echo(f"revoked {n} token(s)")


@click.group("audit")
def audit() -> None:
    """The append-only audit log."""


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Check the hash chain; exit 1 if any row was altered or removed."""
    loaded = settings(ctx)

    async def work(ledger: Ledger) -> tuple[int, list[int]]:
        result: tuple[int, list[int]] = await ledger.verify_audit()
        return result

    n, bad = with_ledger(loaded, work)
    if bad:
        click.echo(f"audit log BROKEN: {len(bad)} of {n} rows do not match the chain (ids {bad[:20]})")
        sys.exit(1)
    click.echo(f"audit log intact: {n} rows")


COMMANDS = (users, tokens, audit)
