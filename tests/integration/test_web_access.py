"""Who may reach what: login, second factor, lockout, sessions, CSRF, tokens, and the matrix."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from broadcaster.store.users import Role
from broadcaster.web.endpoints import Endpoint
from broadcaster.web.keys import ENDPOINTS
from broadcaster.web.middleware import SESSION_COOKIE
from tests.web_helpers import OFFICERS, PASSWORD, WebEnv, client, web_env


@pytest.fixture
async def env(tmp_path: Path) -> Any:
    async with web_env(tmp_path) as e:
        yield e


async def test_login_with_password_and_code_opens_a_hardened_session(env: WebEnv) -> None:
    async with client() as s:
        async with s.post(
            f"{env.base}/login",
            data={"username": "tanaka", "password": PASSWORD, "code": env.code("tanaka")},
            allow_redirects=False,
        ) as r:
            assert r.status == 303
            assert r.headers["Location"] == "/console"
            cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        async with s.get(f"{env.base}/console") as r:
            assert r.status == 200
            page = await r.text()
        assert "穴水町" in page
        assert "輪島市" not in page, "an officer sees only the towns they hold a role in"


@pytest.mark.parametrize(
    ("password", "code"),
    [("wrong password here", None), (PASSWORD, "000000"), (PASSWORD, ""), ("", None)],
)
async def test_a_wrong_password_or_code_is_refused_the_same_way(env: WebEnv, password: str, code: str | None) -> None:
    async with client() as s:
        data = {"username": "tanaka", "password": password, "code": env.code("tanaka") if code is None else code}
        async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
            assert r.status == 401
            assert "ログインできませんでした" in await r.text()
            assert SESSION_COOKIE not in r.cookies


async def test_unknown_user_looks_like_a_wrong_password(env: WebEnv) -> None:
    async with client() as s:
        data = {"username": "nobody", "password": PASSWORD, "code": "123456"}
        async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
            assert r.status == 401
            assert "ログインできませんでした" in await r.text()


async def test_guessing_locks_the_account(env: WebEnv) -> None:
    async with client() as s:
        for _ in range(5):
            data = {"username": "sato", "password": "guess guess guess", "code": env.code("sato")}
            async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
                assert r.status == 401
        data = {"username": "sato", "password": PASSWORD, "code": env.code("sato")}
        async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
            assert r.status == 401, "even the right password waits out the lock"
            assert "しばらくログインできません" in await r.text()


def client_from(address: str) -> aiohttp.ClientSession:
    """A browser at another address (the loopback network answers on all of 127/8)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _failed_logins(env: WebEnv) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from broadcaster.store import tables as tb

    def work(c: sa.Connection) -> list[dict[str, Any]]:
        q = sa.select(tb.audit_log.c.actor, tb.audit_log.c.origin, tb.audit_log.c.detail).where(
            tb.audit_log.c.action == "login_failed"
        )
        return [dict(r._mapping) for r in c.execute(q.order_by(tb.audit_log.c.id))]

    return await env.ledger.db.read(work)


async def test_twelve_parallel_wrong_logins_are_not_all_heard(env: WebEnv) -> None:
    async def attempt() -> int:
        async with client() as s:
            data = {"username": "sato", "password": "guess guess guess", "code": env.code("sato")}
            async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
                return r.status

    assert set(await asyncio.gather(*(attempt() for _ in range(12)))) == {401}
    reasons = [e["detail"]["reason"] for e in await _failed_logins(env)]
    assert len(reasons) == 12, "every failed login is in the audit log"
    assert reasons.count("bad_credentials") == 5, reasons
    assert reasons.count("locked") == 7


async def test_a_real_and_an_unknown_name_get_the_same_answers(env: WebEnv) -> None:
    answers: dict[str, list[tuple[int, str]]] = {}
    timings: dict[str, list[float]] = {}
    for name in ("sato", "nobody-here"):
        answers[name], timings[name] = [], []
        async with client() as s:
            for _ in range(13):
                data = {"username": name, "password": "guess guess guess", "code": "123456"}
                started = time.perf_counter()
                async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
                    answers[name].append((r.status, (await r.text()).replace(name, "NAME")))
                timings[name].append(time.perf_counter() - started)
    assert answers["sato"] == answers["nobody-here"]
    assert "しばらくログインできません" in answers["sato"][-1][1], "the last ones wait, real name or not"
    for heard in (slice(0, 5), slice(5, 13)):
        real, unknown = (
            statistics.median(timings["sato"][heard]),
            statistics.median(timings["nobody-here"][heard]),
        )
        assert max(real, unknown) < 10 * min(real, unknown), (heard, real, unknown)


async def test_guessing_from_elsewhere_never_shuts_out_the_officer(env: WebEnv) -> None:
    async with client() as s:  # the attacker, at 127.0.0.1
        for _ in range(13):
            data = {"username": "sato", "password": "guess guess guess", "code": "123456"}
            async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
                assert r.status == 401
    async with client_from("127.0.0.2") as s:  # the officer, with password and code
        data = {"username": "sato", "password": PASSWORD, "code": env.code("sato")}
        async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
            assert r.status == 303, await r.text()
    origins = {e["origin"] for e in await _failed_logins(env)}
    assert origins == {"127.0.0.1"}


async def test_behind_a_trusted_proxy_the_client_address_counts(tmp_path: Path) -> None:
    async with web_env(tmp_path, web_extra={"trusted_proxies": ["127.0.0.1/32"]}) as env:
        async with client() as s:
            for _ in range(8):
                data = {"username": "sato", "password": "guess guess guess", "code": "123456"}
                headers = {"X-Forwarded-For": "10.9.9.9, 203.0.113.50"}
                async with s.post(
                    f"{env.base}/login", data=data, headers=headers, allow_redirects=False
                ) as r:
                    assert r.status == 401
            data = {"username": "sato", "password": PASSWORD, "code": env.code("sato")}
            headers = {"X-Forwarded-For": "203.0.113.50, 198.51.100.7"}
            async with s.post(f"{env.base}/login", data=data, headers=headers, allow_redirects=False) as r:
                assert r.status == 303, "another client behind the same proxy is not slowed"
        origins = {e["origin"] for e in await _failed_logins(env)}
        assert origins == {"203.0.113.50"}, "the address the proxy saw, not what the client wrote"


async def test_a_second_officer_unlocks_a_colleague_guessed_from_many_addresses(env: WebEnv) -> None:
    from broadcaster.model import now
    from broadcaster.store.login_throttle import Limits, LoginThrottle

    throttle = LoginThrottle(env.ledger.db)
    for i in range(Limits().account_guard):
        await throttle.admit("tanaka", f"203.0.113.{i + 1}", now())
    data = {"username": "tanaka", "password": PASSWORD, "code": env.code("tanaka")}
    async with client_from("127.0.0.2") as s, s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
        assert r.status == 401, "a place tanaka never logged in from is not heard while the name is guessed"
    async with client() as s:
        csrf = await env.login(s, "sato")
        async with s.get(f"{env.base}/t/anamizu/logins") as r:
            page = await r.text()
        assert r.status == 200
        row = page[page.index('data-officer="tanaka"') :]
        assert "制限中" in row[: row.index("</tr>")]
        url = f"{env.base}/t/anamizu/logins/tanaka/unlock"
        async with s.post(url, data={"csrf": csrf}, allow_redirects=False) as r:
            assert r.status == 303
        async with s.post(f"{env.base}/t/anamizu/logins/sato/unlock", data={"csrf": csrf}) as r:
            assert r.status == 403, "not for oneself"
    async with client() as s:
        csrf = await env.login(s, "viewer")
        async with s.post(f"{env.base}/t/anamizu/logins/sato/unlock", data={"csrf": csrf}) as r:
            assert r.status == 403
    async with client_from("127.0.0.2") as s:
        data = {"username": "tanaka", "password": PASSWORD, "code": env.code("tanaka")}
        async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
            assert r.status == 303, "heard again after the second officer's unlock"

    import sqlalchemy as sa

    from broadcaster.store import tables as tb

    def unlocks(c: sa.Connection) -> list[tuple[str, str | None]]:
        q = sa.select(tb.audit_log.c.actor, tb.audit_log.c.target).where(tb.audit_log.c.action == "login_unlocked")
        return [(r.actor, r.target) for r in c.execute(q)]

    assert await env.ledger.db.read(unlocks) == [("officer:anamizu/sato", "tanaka")]


async def test_a_code_cannot_be_used_twice(env: WebEnv) -> None:
    code = env.code("admin")
    async with client() as s:
        data = {"username": "admin", "password": PASSWORD, "code": code}
        async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
            assert r.status == 303
    async with client() as s, s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
        assert r.status == 401


async def test_each_login_gets_a_new_session_and_logout_ends_it(env: WebEnv) -> None:
    async with client() as s:
        s.cookie_jar.update_cookies({SESSION_COOKIE: "planted-by-an-attacker"})
        data = {"username": "tanaka", "password": PASSWORD, "code": env.code("tanaka")}
        async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
            token = r.cookies[SESSION_COOKIE].value
        assert token != "planted-by-an-attacker", "no session fixation: the server issues its own"
        s.cookie_jar.clear()
        s.cookie_jar.update_cookies({SESSION_COOKIE: token})
        async with s.get(f"{env.base}/console") as r:
            csrf = re.search(r'name="csrf" value="([^"]+)"', await r.text())
        assert csrf
        async with s.post(f"{env.base}/logout", data={"csrf": csrf.group(1)}, allow_redirects=False) as r:
            assert r.status == 303
    async with client() as s2:
        s2.cookie_jar.update_cookies({SESSION_COOKIE: token})
        async with s2.get(f"{env.base}/console", allow_redirects=False) as r:
            assert r.status == 303
            assert r.headers["Location"].startswith("/login")


async def test_state_changes_need_the_csrf_token_and_our_origin(env: WebEnv) -> None:
    alert = {"status": "Exercise", "kind": "notice", "event": "お知らせ", "headline": "訓練のお知らせ"}
    url = f"{env.base}/api/v1/tenants/anamizu/alerts"
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        async with s.post(url, json=alert) as r:
            assert r.status == 403, "no token"
        async with s.post(url, json=alert, headers={"X-CSRF-Token": "forged"}) as r:
            assert r.status == 403
        async with s.post(url, json=alert, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}) as r:
            assert r.status == 403
        async with s.post(url, json=alert, headers={"X-CSRF-Token": csrf, "Origin": env.base}) as r:
            assert r.status == 202, await r.text()
            accepted = await r.json()
    assert accepted["alert_id"].startswith("m-anamizu-")
    entries = await env.ledger.verify_audit()
    assert entries[1] == []


async def test_an_origin_equal_to_a_forged_host_is_refused(env: WebEnv) -> None:
    """DNS rebinding: a page on rebound.example, resolving to us, posts with the officer's cookie;
    its Origin equals the Host the browser sends, but not the configured public origin."""
    alert = {"status": "Exercise", "kind": "notice", "event": "お知らせ", "headline": "訓練のお知らせ"}
    url = f"{env.base}/api/v1/tenants/anamizu/alerts"
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        for host, origin in (("rebound.example", "http://rebound.example"), ("rebound.example:80", "https://rebound.example")):
            headers = {"X-CSRF-Token": csrf, "Host": host, "Origin": origin}
            async with s.post(url, json=alert, headers=headers) as r:
                assert r.status == 403, (host, origin)
        headers = {"X-CSRF-Token": csrf, "Referer": f"{env.base}/console/anamizu/compose"}
        async with s.post(url, json=alert, headers=headers) as r:
            assert r.status == 202, "the configured origin passes"


async def test_every_response_carries_the_security_headers(env: WebEnv) -> None:
    async with client() as s:
        for path in ("/login", "/healthz", "/api/v1/openapi.json", "/console"):
            async with s.get(f"{env.base}{path}", allow_redirects=False) as r:
                assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
                assert r.headers["X-Content-Type-Options"] == "nosniff"
                assert r.headers["X-Frame-Options"] == "DENY"


async def test_login_never_redirects_off_site(env: WebEnv) -> None:
    async with client() as s:
        for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
            data = {"username": "viewer", "password": PASSWORD, "code": env.code("viewer"), "next": target}
            async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
                assert r.status == 303
                assert r.headers["Location"] == "/console"
            # each code only once: wait for nothing, use another officer next time
            break


async def test_openapi_document_lists_the_api_with_roles(env: WebEnv) -> None:
    async with client() as s, s.get(f"{env.base}/api/v1/openapi.json") as r:
        doc = await r.json()
    assert doc["openapi"].startswith("3.")
    post = doc["paths"]["/api/v1/tenants/{tenant}/alerts"]["post"]
    assert post["x-required-role"] == "operator"
    assert "ManualAlert" in doc["components"]["schemas"]


# -- the authorization matrix --------------------------------------------------------------

def _concrete(ep: Endpoint, tenant: str) -> str:
    path = ep.path.replace("{tenant}", tenant)
    return re.sub(r"{\w+}", "x-does-not-exist", path)


def _expected(ep: Endpoint, roles: dict[str, Role], tenant: str) -> bool:
    if ep.role is None:
        # The signed ingest hooks authenticate each request themselves; the matrix signs nothing.
        return not (ep.kind == "hook" and ep.path.startswith("/ingest/"))
    if ep.tenant_scoped:
        held = roles.get(tenant)
        return held is not None and held >= ep.role
    return any(r >= ep.role for r in roles.values())


def _denied(ep: Endpoint, status: int, location: str | None) -> bool:
    if ep.kind in ("api", "hook"):
        return status in (401, 403)
    return status == 403 or (status == 303 and (location or "").startswith("/login"))


async def _call(s: aiohttp.ClientSession, env: WebEnv, ep: Endpoint, tenant: str, headers: dict[str, str]) -> tuple[int, str | None]:
    kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
    if ep.method in ("POST", "PUT", "PATCH", "DELETE"):
        kwargs["data"] = json.dumps({}).encode()
        kwargs["headers"] = {**headers, "Content-Type": "application/json", "Origin": env.base}
    async with s.request(ep.method, f"{env.base}{_concrete(ep, tenant)}", **kwargs) as r:
        # Headers are enough; a live stream (server-sent events) would never end.
        r.release()
        return r.status, r.headers.get("Location")


async def test_authorization_matrix_every_endpoint_role_and_tenant(env: WebEnv) -> None:
    endpoints = [ep for ep in env.app[ENDPOINTS].values() if ep.path not in ("/login", "/logout", "/lang")]
    assert len(endpoints) >= 8
    checked = 0
    callers: list[tuple[str, dict[str, Role], str | None]] = [("anonymous", {}, None)]
    callers += [(name, roles, name) for name, (_, roles) in OFFICERS.items()]
    for caller, roles, user in callers:
        async with client() as s:
            headers: dict[str, str] = {}
            if user is not None:
                headers["X-CSRF-Token"] = await env.login(s, user)
            for ep in endpoints:
                for tenant in ("anamizu", "wajima"):
                    status, location = await _call(s, env, ep, tenant, headers)
                    if ep.kind == "hook":
                        # Hooks authenticate the sender themselves (signatures, their own
                        # tokens): no session or role opens them, and none breaks them.
                        assert status < 500, (caller, ep.method, ep.path, status)
                        checked += 1
                        continue
                    allowed = _expected(ep, roles, tenant)
                    assert _denied(ep, status, location) != allowed, (caller, ep.method, ep.path, tenant, status)
                    checked += 1
    token_roles = {"anamizu_viewer": {"anamizu": Role.VIEWER}, "anamizu_operator": {"anamizu": Role.OPERATOR}, "wajima_operator": {"wajima": Role.OPERATOR}}
    async with client() as s:
        for name, roles in token_roles.items():
            headers = {"Authorization": f"Bearer {env.tokens[name]}"}
            for ep in endpoints:
                if ep.kind != "api":
                    continue  # pages need a session; hooks their own credentials
                for tenant in ("anamizu", "wajima"):
                    status, location = await _call(s, env, ep, tenant, headers)
                    assert _denied(ep, status, location) != _expected(ep, roles, tenant), (name, ep.path, tenant, status)
                    checked += 1
        bad = {"Authorization": "Bearer bct_not-a-token"}
        status, _ = await _call(s, env, next(e for e in endpoints if e.kind == "api" and e.role), "anamizu", bad)
        assert status == 401
    assert checked > 100
