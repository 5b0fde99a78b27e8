"""Console pages: log in and out, language, the officer's home."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from markupsafe import Markup

from broadcaster.circulars.records import CircularState
from broadcaster.logging import get_logger
from broadcaster.model import AlertState
from broadcaster.model.timeutil import now, shown, zone
from broadcaster.store import reports
from broadcaster.store.users import Role
from broadcaster.web.console.names import action_name, audience_name, channel_name
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.i18n import t
from broadcaster.web.keys import CONTEXT, LANG, SESSION_COOKIE, principal

log = get_logger(__name__)
pages = Endpoints()

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# Pages compare states with the enums, never with bare strings (docs/developing.md).
_env.globals.update(AlertState=AlertState, CircularState=CircularState)


def zone_of(request: web.Request, tenant: Any) -> tzinfo:
    """The zone a tenant's times are shown in (settings: tenants.time_zone); JST for none."""
    tid = getattr(tenant, "id", tenant)
    found = request.app[CONTEXT].settings.tenants.get(tid) if isinstance(tid, str) else None
    return zone(found.time_zone if found is not None else None)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    lang = request.get(LANG, "ja")

    def clock(at: datetime | None, fmt: str = "%m/%d %H:%M", tenant: Any = None) -> Markup:
        # Every time on a page is in its town's zone, labelled (a page of several towns names
        # each row's town); a <time> that a narrow table column does not break in the middle.
        if at is None:
            return Markup("")
        tz = zone_of(request, tenant if tenant is not None else context.get("tenant"))
        local = (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(tz)
        return Markup('<time datetime="{}">{}</time>').format(local.isoformat(), shown(local, tz, fmt))

    html = _env.get_template(template).render(
        lang=lang,
        t=lambda key: t(key, lang),
        channel_name=lambda channel: channel_name(channel, lang),
        audience_name=lambda audience, districts: audience_name(audience, districts, lang),
        clock=clock,
        # The zone's label now (JST, HST...), for a form's time field: the officer types local time.
        zone_label=now().astimezone(zone_of(request, context.get("tenant"))).tzname(),
        action_name=lambda action: action_name(action, lang),
        principal=principal(request),
        request_path=request.path_qs,
        **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _safe_next(value: str | None) -> str:
    """Only a path on this site: a login link must not bounce an officer to another site."""
    if not value:
        return "/console"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/console"
    return value


def _cookie_secure(request: web.Request) -> bool:
    web_settings = request.app[CONTEXT].settings.web
    if web_settings.cookie_secure is not None:
        return web_settings.cookie_secure
    return web_settings.public_url.startswith("https://")


def client_ip(request: web.Request) -> str:
    """The client's address: the peer's, or, when the peer is a trusted reverse proxy, the last
    address in X-Forwarded-For that is not one of ours (anything to its left the client wrote)."""
    peer = request.remote or "unknown"
    proxies = request.app[CONTEXT].settings.web.trusted_proxies
    if not proxies or not _within(peer, proxies):
        return peer
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",")]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not _within(hop, proxies):
            return hop
    return peer


def _within(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


@pages.route("GET", "/login", role=None, kind="page", summary="Login form")
async def login_form(request: web.Request) -> web.StreamResponse:
    return render(request, "login.html", next=_safe_next(request.query.get("next")), error=None)


@pages.route("POST", "/login", role=None, kind="page", summary="Log in")
async def login(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    form = await request.post()
    username = str(form.get("username", ""))[:100]
    next_url = _safe_next(str(form.get("next", "")))
    result = await ctx.authenticator.login(
        username, str(form.get("password", "")), str(form.get("code", "")), ip=client_ip(request)
    )
    lang = request.get(LANG, "ja")
    if result.user is None:
        detail = {"reason": result.reason} | ({"refused_by": result.refused_by} if result.refused_by else {})
        await ctx.ledger.audit(
            actor=f"login:{username}", action="login_failed", origin=client_ip(request), detail=detail
        )
        message = t("login_locked" if result.reason in ("locked", "rate_limited") else "login_failed", lang)
        return render(request, "login.html", status=401, next=next_url, error=message)
    lifetime = timedelta(hours=ctx.settings.web.session_hours)
    token, _ = await ctx.users.open_session(result.user.id, lifetime=lifetime, origin=client_ip(request))
    await ctx.ledger.audit(
        actor=f"officer:{result.user.home_tenant}/{result.user.username}", action="login", origin=client_ip(request)
    )
    response = web.HTTPSeeOther(next_url)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        secure=_cookie_secure(request),
        samesite="Lax",
        path="/",
    )
    raise response


@pages.route("POST", "/logout", role=Role.VIEWER, kind="page", summary="Log out")
async def logout(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await ctx.users.close_session(token)
    who = principal(request)
    if who is not None:
        await ctx.ledger.audit(actor=who.identity, action="logout", origin=client_ip(request))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@pages.route("POST", "/lang", role=None, kind="page", summary="Switch the console language")
async def switch_language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    response = web.HTTPSeeOther(_safe_next(str(form.get("next", ""))))
    response.set_cookie("bc_lang", "ja" if request.get(LANG) == "en" else "en", max_age=365 * 86400, samesite="Lax", path="/")
    raise response


@pages.route("GET", "/console", role=Role.VIEWER, kind="page", summary="The officer's home")
async def console_home(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    who = principal(request)
    assert who is not None
    tenants = [(ctx.settings.tenants[tid], role.label) for tid, role in sorted(who.roles.items()) if tid in ctx.settings.tenants]
    alerts: list[dict[str, Any]] = []
    for tenant, _ in tenants:
        alerts.extend(await reports.alerts(ctx.ledger, tenant=tenant.id, limit=20))
    alerts.sort(key=lambda a: a["received"], reverse=True)
    return render(request, "console_home.html", tenants=tenants, alerts=alerts[:30])


@pages.route("GET", "/", role=None, kind="public", summary="Front door")
async def front(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/console")


@pages.route("GET", "/favicon.ico", role=None, kind="public", summary="The site's icon (browsers ask for it)")
async def favicon(request: web.Request) -> web.StreamResponse:
    # Browsers request it on every site; a 404 in every officer's and resident's console hides real errors.
    icon = Path(__file__).parent / "pwa" / "icon.svg"
    return web.Response(
        body=icon.read_bytes(), content_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )
