"""The web application: one aiohttp app for the console, public pages, hooks and the API."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from broadcaster.logging import get_logger
from broadcaster.web.api import api
from broadcaster.web.circular_api import circular_api
from broadcaster.web.circular_console import circular_console
from broadcaster.web.circular_leader import leader_pages
from broadcaster.web.console.consistency import consistency_console
from broadcaster.web.console.coverage_page import coverage_console
from broadcaster.web.console.handoff import handoff_console
from broadcaster.web.console.logins import logins_console
from broadcaster.web.console.pages import console
from broadcaster.web.console.quota_page import quota_pages
from broadcaster.web.console.receivers import receivers_console
from broadcaster.web.context import WebContext
from broadcaster.web.endpoints import Endpoint, Endpoints
from broadcaster.web.health import health
from broadcaster.web.hooks import hooks
from broadcaster.web.keys import (
    CIRCULAR_LIMITERS,
    CLOSING,
    CONTEXT,
    ENDPOINTS,
    HOOK_NONCES,
    PWA_LIMITER,
)
from broadcaster.web.line_hook import LINE_WEBHOOK, LineWebhook, line_hooks
from broadcaster.web.line_hook import attach as attach_line
from broadcaster.web.middleware import authorize, security_headers
from broadcaster.web.pages import pages
from broadcaster.web.pwa import pwa
from broadcaster.web.ratelimit import RateLimiter
from broadcaster.web.safety import safety_pages
from broadcaster.web.site import site
from broadcaster.web.unsubscribe import unsubscribe_pages

log = get_logger(__name__)

STATIC = Path(__file__).parent / "static"


def build_app(ctx: WebContext, extra: list[Endpoints] | None = None, *, only_health: bool = False) -> web.Application:
    """The whole site, or (`only_health`) just health and metrics for a stage worker's port."""
    app = web.Application(
        middlewares=[security_headers, authorize],
        client_max_size=ctx.settings.web.max_body_bytes,
    )
    app[CONTEXT] = ctx
    app[CLOSING] = asyncio.Event()
    circulars = ctx.settings.circulars
    app[PWA_LIMITER] = RateLimiter()
    app[CIRCULAR_LIMITERS] = (
        RateLimiter(circulars.page_requests_per_minute, 60.0),
        RateLimiter(circulars.bad_links_per_minute, 60.0),
    )
    app[HOOK_NONCES] = {}

    async def _closing(app: web.Application) -> None:
        app[CLOSING].set()

    app.on_shutdown.append(_closing)
    # The services themselves (ctx.runtime) belong to the composition root (broadcaster/app.py),
    # which closes them after the app has stopped; the app closes only what it made above.
    registry: dict[object, Endpoint] = {}
    app[ENDPOINTS] = registry
    groups = [health] if only_health else [health, pages, api, console, hooks, line_hooks, site, pwa, circular_console, circular_api, leader_pages, unsubscribe_pages, quota_pages, handoff_console, receivers_console, consistency_console, coverage_console, logins_console, safety_pages, *(extra or [])]
    for group in groups:
        group.register(app, registry)
    if not only_health:
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        # The door of LINE's webhook (replay store, order per user, sweeper) over the process's
        # one conversation; its sweeper starts and stops with the app.
        app[LINE_WEBHOOK] = LineWebhook(ctx.settings, ctx.ledger, ctx.runtime.conversation)
        attach_line(app)
    return app


class WebServer:
    """Runs the app on the configured address until stopped (a stage of `broadcaster run`)."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # Port 0 asks the system for a free one; report the one we got.
        addresses = self._runner.addresses
        port = addresses[0][1] if addresses else self.port
        log.info("web_listening", host=self.host, port=port)
        return int(port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
