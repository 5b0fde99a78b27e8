"""Middlewares: security headers, who is asking, may they, and CSRF for cookie sessions."""

from __future__ import annotations

import hmac
from urllib.parse import quote, urlsplit

from aiohttp import web

from broadcaster.logging import get_logger
from broadcaster.pipeline.tenancy import DelegationRefused
from broadcaster.store.users import Principal, Role
from broadcaster.web.delegation import audit_delegated, delegation
from broadcaster.web.endpoints import Endpoint, Handler
from broadcaster.web.keys import CONTEXT, ENDPOINTS, LANG, PRINCIPAL, SESSION_COOKIE
from broadcaster.web.pages import render

log = get_logger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as e:
        response = e
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
    if request.app[CONTEXT].settings.web.public_url.startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if isinstance(response, web.HTTPException):
        raise response
    return response


def endpoint_of(request: web.Request) -> Endpoint | None:
    route = request.match_info.route
    return request.app[ENDPOINTS].get(route)


async def _principal(request: web.Request) -> Principal | None:
    ctx = request.app[CONTEXT]
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return await ctx.users.principal_for_token(auth[len("Bearer ") :].strip())
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        from datetime import timedelta

        return await ctx.users.principal_for_session(token, idle=timedelta(minutes=ctx.settings.web.idle_minutes))
    return None


NOT_ALLOWED = "not allowed"


def _refuse(request: web.Request, ep: Endpoint, status: int, message: str) -> web.StreamResponse:
    if ep.kind in ("api", "hook"):
        return web.json_response({"error": message}, status=status)
    if status == 401:
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
    if ep.kind == "page" and ep.role is not None and message == NOT_ALLOWED:
        return _forbidden_page(request, ep.role)
    raise web.HTTPForbidden(text=message)


def _forbidden_page(request: web.Request, need: Role) -> web.StreamResponse:
    """A page, not a bare word: what is not allowed, who can grant it, and the way back (403)."""
    who = request.get(PRINCIPAL)
    tenant = request.match_info.get("tenant")
    held = who.roles.get(tenant) if isinstance(who, Principal) and tenant is not None else None
    lang = request.get(LANG, "ja")
    message = (
        f"Your account may not open {request.path}." if lang == "en"
        else f"あなたのアカウントでは {request.path} を開けません。"
    )
    return render(
        request, "forbidden.html", status=403, message=message, need=need.label,
        have=held.label if held is not None else None, back="/console",
    )


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) with the scheme's default port spelled out; None when unreadable."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower().rstrip("."), port


def from_our_site(request: web.Request, *, allow_null: bool = False) -> bool:
    """An Origin or Referer header, when sent, must be the configured public origin
    (`web.public_url`). Never the request's own Host: whoever sends the request chooses that
    header too, and a page on a name that resolves to us (DNS rebinding) would pass
    (docs/security.md, *Origin*)."""
    own = _origin(request.app[CONTEXT].settings.web.public_url)
    for header in ("Origin", "Referer"):
        value = request.headers.get(header)
        if value is None or value == "":
            continue
        if value == "null" and allow_null:
            continue
        if own is None or _origin(value) != own:
            return False
    return True


@web.middleware
async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[LANG] = "en" if request.cookies.get("bc_lang") == "en" else "ja"
    ep = endpoint_of(request)
    principal = await _principal(request) if ep is not None and ep.kind != "public" else None
    request[PRINCIPAL] = principal
    if ep is None or ep.role is None:
        return await handler(request)
    if principal is None:
        return _refuse(request, ep, 401, "authentication required")
    tenant = request.match_info.get("tenant")
    allowed = principal.may(tenant, ep.role) if tenant is not None else any(r >= ep.role for r in principal.roles.values())
    if not allowed:
        # The same answer whether the tenant exists or not: no probing for other towns.
        log.warning("access_denied", who=principal.identity, path=request.path, need=ep.role.label)
        return _refuse(request, ep, 403, NOT_ALLOWED)
    delegated = None
    if tenant is not None:
        try:
            delegated = delegation(request, principal, tenant)
        except DelegationRefused as e:
            log.warning("delegation_refused", who=principal.identity, path=request.path, why=str(e))
            return _refuse(request, ep, 403, NOT_ALLOWED)
    if principal.kind == "user" and request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token")
        if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            sent = str((await request.post()).get("csrf", ""))
        if not sent or principal.csrf_token is None or not hmac.compare_digest(sent, principal.csrf_token):
            log.warning("csrf_refused", who=principal.identity, path=request.path)
            return _refuse(request, ep, 403, "the form has expired; reload the page")
        if not from_our_site(request):
            return _refuse(request, ep, 403, "cross-site request refused")
    if delegated is not None and request.method not in SAFE_METHODS:
        await audit_delegated(request, delegated, ep.summary)
    return await handler(request)
