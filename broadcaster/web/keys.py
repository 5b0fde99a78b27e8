"""Typed keys of the application and request state."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from broadcaster.store.nonces import NonceStore
    from broadcaster.store.users import Principal
    from broadcaster.web.context import WebContext
    from broadcaster.web.endpoints import Endpoint
    from broadcaster.web.ratelimit import RateLimiter

CONTEXT: web.AppKey[WebContext] = web.AppKey("context")
# Set when the server shuts down, so that long-lived responses (server-sent events) end at once.
CLOSING: web.AppKey[asyncio.Event] = web.AppKey("closing")
ENDPOINTS: web.AppKey[dict[Any, Endpoint]] = web.AppKey("endpoints")
# Per-app state the handlers share, made when the app is built (an app is frozen once it starts,
# so nothing is added to it, or to a loose dict beside it, on first use).
PWA_LIMITER: web.AppKey[RateLimiter] = web.AppKey("pwa_limiter")
# The e-circular pages' limiters: page views, and wrong links (guessing) per client.
CIRCULAR_LIMITERS: web.AppKey[tuple[RateLimiter, RateLimiter]] = web.AppKey("circular_limiters")
# One replay store per signed hook, by hook name.
HOOK_NONCES: web.AppKey[dict[str, NonceStore]] = web.AppKey("hook_nonces")
# (The LINE webhook's door has its key beside it: web/line_hook.py, LINE_WEBHOOK.)
# The officer's session cookie (read by the auth middleware, set by the login page).
SESSION_COOKIE = "bc_session"
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
LANG: web.RequestKey[str] = web.RequestKey("lang")


def principal(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)
