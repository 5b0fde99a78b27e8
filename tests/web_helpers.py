"""A running web app with officers of two towns, for the web tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pyotp

from broadcaster.app import open_runtime
from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.settings import Settings
from broadcaster.store import migrate
from broadcaster.store.ledger import Ledger
from broadcaster.store.sealed import attach
from broadcaster.store.users import Role, Users
from broadcaster.web.app import WebServer, build_app
from broadcaster.web.context import WebContext
from broadcaster.web.endpoints import Endpoints
from tests.canaries import OFFICER_PASSWORD, canary_totp, remember
from tests.helpers import make_settings

PASSWORD = OFFICER_PASSWORD

# (username, home tenant, {tenant: role})
OFFICERS: dict[str, tuple[str, dict[str, Role]]] = {
    "viewer": ("anamizu", {"anamizu": Role.VIEWER}),
    "tanaka": ("anamizu", {"anamizu": Role.OPERATOR}),
    "sato": ("anamizu", {"anamizu": Role.APPROVER}),
    "admin": ("anamizu", {"anamizu": Role.ADMIN}),
    "wajima_op": ("wajima", {"wajima": Role.OPERATOR}),
}


@dataclass
class WebEnv:
    settings: Settings
    ledger: Ledger
    bus: EmbeddedBus
    base: str
    secrets: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    app: Any = None

    def code(self, user: str) -> str:
        return pyotp.TOTP(self.secrets[user]).now()

    async def login(self, session: aiohttp.ClientSession, user: str) -> str:
        """Log in; returns the CSRF token of the new session."""
        async with session.post(
            f"{self.base}/login",
            data={"username": user, "password": PASSWORD, "code": self.code(user), "next": "/console"},
            allow_redirects=False,
        ) as r:
            assert r.status == 303, await r.text()
        async with session.get(f"{self.base}/console") as r:
            html = await r.text()
            assert r.status == 200, html
        match = re.search(r'name="csrf" value="([^"]+)"', html)
        assert match
        return match.group(1)


def client() -> aiohttp.ClientSession:
    """A browser-like session; it keeps cookies of IP-addressed hosts (the loopback test server)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def web_env(
    tmp: Path, extra: list[Endpoints] | None = None, web_extra: dict[str, Any] | None = None, **settings_over: Any
) -> AsyncIterator[WebEnv]:
    from broadcaster.web.auth import hash_password

    port = free_port()
    web_settings = {"port": port, "public_url": f"http://127.0.0.1:{port}", **(web_extra or {})}
    settings = make_settings(tmp, web=web_settings, **settings_over)
    ledger = Ledger.connect(settings.db_url)
    attach(ledger.db, settings.privacy.cipher())  # TOTP secrets sealed, as in a deployment
    await migrate.upgrade(ledger.db)
    await ledger.ensure_tenants((t.id, t.name) for t in settings.tenants.values())
    bus = EmbeddedBus(Path(settings.bus.url.removeprefix("embedded:")), partitions=4, poll_interval=0.05)
    await bus.start()
    users = Users(ledger.db)
    secrets: dict[str, str] = {}
    pw = hash_password(PASSWORD)
    for name, (home, roles) in OFFICERS.items():
        secrets[name] = canary_totp()
        await users.add(name, display_name=name, home_tenant=home, password_hash=pw, totp_secret=secrets[name], roles=roles)
    tokens = {
        "anamizu_viewer": await users.create_token("anamizu", "dashboard", Role.VIEWER),
        "anamizu_operator": await users.create_token("anamizu", "cms", Role.OPERATOR),
        "wajima_operator": await users.create_token("wajima", "cms", Role.OPERATOR),
    }
    for token in tokens.values():
        remember(token, "API token")
    try:
        # The process's services from the composition root, as a web-only process has them.
        async with open_runtime(settings, bus, ledger) as runtime:
            app = build_app(WebContext.build(runtime), extra)
            server = WebServer(app, "127.0.0.1", port)
            await server.start()
            try:
                yield WebEnv(settings, ledger, bus, f"http://127.0.0.1:{port}", secrets, tokens, app)
            finally:
                await server.stop()
    finally:
        await bus.close()
        await ledger.close()
