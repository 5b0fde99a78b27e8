"""The console's ログイン制限 page: a second officer lets a colleague log in again.

Guessing an officer's name from many addresses does not lock them out where they have logged in
before; at a new place (a shelter, a phone network) they are heard again once a second officer,
an approver of a town where they hold a role, unlocks them here (docs/security.md, *Logins*).
Only a person does this, never an API token, never for themselves; it is audited.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broadcaster.model import now
from broadcaster.store.login_throttle import LoginThrottle, states
from broadcaster.store.users import Role
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT, LANG, principal
from broadcaster.web.pages import client_ip, render

logins_console = Endpoints()

WORDS: dict[str, dict[str, str]] = {
    "title": {"ja": "ログイン制限", "en": "Login limits"},
    "intro": {
        "ja": "同じ名前で失敗が続くと、その職員はこれまでログインしたことのある場所からしかログインできなくなります。"
        "避難所など別の場所から入る必要があるときは、本人に確認してから解除してください（30分間有効、記録されます）。",
        "en": "After many failed logins in one name, that officer is heard only from places they logged in from "
        "before. If they must log in from elsewhere (a shelter), check with them, then unlock (30 minutes; audited).",
    },
    "officer": {"ja": "職員", "en": "Officer"},
    "failures": {"ja": "失敗（1時間）", "en": "Failures (1 h)"},
    "state": {"ja": "状態", "en": "State"},
    "guarded": {"ja": "制限中（既知の場所のみ）", "en": "LIMITED (known places only)"},
    "open": {"ja": "通常", "en": "normal"},
    "lifted": {"ja": "解除中", "en": "unlocked until"},
    "unlock": {"ja": "解除する", "en": "Unlock"},
    "done": {"ja": "解除しました。", "en": "Unlocked."},
}


def words(lang: str) -> Any:
    return lambda key: WORDS.get(key, {}).get(lang) or WORDS.get(key, {}).get("ja") or key


@logins_console.route(
    "GET", "/t/{tenant}/logins", role=Role.APPROVER, kind="page",
    summary="Login limits of the town's officers; a second officer unlocks one",
)  # fmt: skip
async def logins_page(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = ctx.settings.tenants.get(request.match_info["tenant"])
    if tenant is None:
        raise web.HTTPNotFound(text="no such municipality")
    officers = await ctx.users.officers_of(tenant.id)
    found = await states(ctx.ledger.db, [o[0] for o in officers], now())
    who = principal(request)
    rows = [
        {"username": u, "name": n, "role": r.label, "state": found[u], "self": who is not None and who.name == u}
        for u, n, r in officers
    ]
    done = request.query.get("done") == "1"
    return render(request, "console/logins.html", tenant=tenant, rows=rows, w=words(request.get(LANG, "ja")), done=done)


@logins_console.route(
    "POST", "/t/{tenant}/logins/{username}/unlock", role=Role.APPROVER, kind="page",
    summary="Unlock an officer's logins (a second officer)",
)  # fmt: skip
async def unlock(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = ctx.settings.tenants.get(request.match_info["tenant"])
    who = principal(request)
    if tenant is None or who is None:
        raise web.HTTPNotFound(text="no such municipality")
    if who.kind != "user":
        raise web.HTTPForbidden(text="an officer unlocks, not an API token")
    username = request.match_info["username"]
    if username == who.name:
        raise web.HTTPForbidden(text="a second officer unlocks you, not yourself")
    if username not in {u for u, _, _ in await ctx.users.officers_of(tenant.id)}:
        raise web.HTTPNotFound(text="no such officer in this municipality")
    await LoginThrottle(ctx.ledger.db).unlock(username, now())
    await ctx.ledger.audit(
        actor=who.identity, action="login_unlocked", tenant=tenant.id, target=username, origin=client_ip(request)
    )
    raise web.HTTPSeeOther(f"/t/{tenant.id}/logins?done=1")
