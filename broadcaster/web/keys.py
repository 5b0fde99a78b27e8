"""Typed keys of the application and request state."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from broadcaster.store.users import Principal
    from broadcaster.web.context import WebContext
    from broadcaster.web.endpoints import Endpoint

CONTEXT: web.AppKey[WebContext] = web.AppKey("context")
# Set when the server shuts down, so that long-lived responses (server-sent events) end at once.
CLOSING: web.AppKey[asyncio.Event] = web.AppKey("closing")
ENDPOINTS: web.AppKey[dict[Any, Endpoint]] = web.AppKey("endpoints")
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
LANG: web.RequestKey[str] = web.RequestKey("lang")


def principal(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)
