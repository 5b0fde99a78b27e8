"""`broadcaster users|tokens|audit`: who may use the console and the API, and what they did."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from broadcaster.errors import ConfigError
from broadcaster.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    from broadcaster.cli import _settings as load

    return load(ctx)


async def _with_ledger(settings: Settings, work: Any) -> Any:
    from broadcaster.store.personal import open_ledger

    ledger = open_ledger(settings)  # TOTP secrets and phone numbers are sealed with its key
    try:
        return await work(ledger)
    finally:
        await ledger.close()


@click.group()
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

    settings = _settings(ctx)
    if tenant not in settings.tenants:
        raise click.ClickException(f"unknown tenant {tenant!r}")
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

    async def work(ledger: Any) -> int:
        await ledger.ensure_tenants((t.id, t.name) for t in settings.tenants.values())
        uid: int = await Users(ledger.db).add(
            username, display_name=display_name or username, home_tenant=tenant, password_hash=pw_hash,
            totp_secret=secret, roles={tenant: role_value}, phone=phone,
        )
        await ledger.audit(actor="cli", action="user_added", tenant=tenant, target=username, detail={"role": role_value.label})
        return uid

    uid = asyncio.run(_with_ledger(settings, work))
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

    settings = _settings(ctx)
    if tenant not in settings.tenants:
        raise click.ClickException(f"unknown tenant {tenant!r}")
    role_value = Role.parse(role)

    async def work(ledger: Any) -> None:
        store = Users(ledger.db)
        user = await store.by_username(username)
        if user is None:
            raise ConfigError(f"no user {username!r}")
        if user.home_tenant != tenant and user.home_tenant not in settings.tenants[tenant].delegates:
            raise ConfigError(
                f"{user.home_tenant} is not among {tenant}'s delegates: add it to the tenant's `delegates` first"
            )
        await store.grant(user.id, tenant, role_value)
        await ledger.audit(actor="cli", action="role_granted", tenant=tenant, target=username, detail={"role": role_value.label, "home": user.home_tenant})

    try:
        asyncio.run(_with_ledger(settings, work))
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{username} is now {role_value.label} of {tenant}")


@click.group()
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

    settings = _settings(ctx)
    if tenant not in settings.tenants:
        raise click.ClickException(f"unknown tenant {tenant!r}")
    role_value = Role.parse(role)

    async def work(ledger: Any) -> str:
        await ledger.ensure_tenants((t.id, t.name) for t in settings.tenants.values())
        token: str = await Users(ledger.db).create_token(tenant, name, role_value)
        await ledger.audit(actor="cli", action="token_created", tenant=tenant, target=name, detail={"role": role_value.label})
        return token

    click.echo(asyncio.run(_with_ledger(settings, work)))


@tokens.command("revoke")
@click.argument("name")
@click.option("--tenant", required=True)
@click.pass_context
def tokens_revoke(ctx: click.Context, name: str, tenant: str) -> None:
    from broadcaster.store.users import Users

    settings = _settings(ctx)

    async def work(ledger: Any) -> int:
        n: int = await Users(ledger.db).revoke_token(tenant, name)
        await ledger.audit(actor="cli", action="token_revoked", tenant=tenant, target=name)
        return n

    n = asyncio.run(_with_ledger(settings, work))
    click.echo(f"revoked {n} token(s)")


@click.group()
def audit() -> None:
    """The append-only audit log."""


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Check the hash chain; exit 1 if any row was altered or removed."""
    settings = _settings(ctx)

    async def work(ledger: Any) -> tuple[int, list[int]]:
        result: tuple[int, list[int]] = await ledger.verify_audit()
        return result

    n, bad = asyncio.run(_with_ledger(settings, work))
    if bad:
        click.echo(f"audit log BROKEN: {len(bad)} of {n} rows do not match the chain (ids {bad[:20]})")
        sys.exit(1)
    click.echo(f"audit log intact: {n} rows")
