"""Liveness and readiness for load balancers and orchestrators; they reveal nothing else."""

from __future__ import annotations

import hmac
import ipaddress

import sqlalchemy as sa
from aiohttp import web

from broadcaster.metrics import METRICS
from broadcaster.settings import WebSettings
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT

health = Endpoints()


@health.route("GET", "/healthz", role=None, kind="public", summary="The process answers")
async def healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


@health.route("GET", "/metrics", role=None, kind="hook", summary="Prometheus metrics")
async def metrics(request: web.Request) -> web.StreamResponse:
    cfg = request.app[CONTEXT].settings.web
    token = cfg.metrics_token
    if token is not None:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token.get_secret_value()}".encode()):
            return web.json_response({"error": "metrics token required"}, status=401)
    elif not cfg.metrics_public and not from_this_machine(request):
        # Without a token the figures (towns, channels, queue depths, failures) stay on this machine.
        return web.json_response({"error": "metrics token required"}, status=401)
    return web.Response(body=METRICS.exposition(), content_type="text/plain", charset="utf-8")


def from_this_machine(request: web.Request) -> bool:
    """A loopback peer that relays nobody: a reverse proxy on this machine forwards outsiders
    from a loopback address too, and says so in X-Forwarded-For or Forwarded."""
    try:
        local = ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False
    return local and "X-Forwarded-For" not in request.headers and "Forwarded" not in request.headers


def metrics_host(settings: WebSettings) -> str:
    """Where a stage worker's metrics port listens: `web.host`, or loopback while /metrics has
    neither a token nor `metrics_public` (it would answer only there anyway)."""
    if settings.metrics_token is None and not settings.metrics_public:
        return "::1" if ":" in settings.host else "127.0.0.1"
    return settings.host


@health.route("GET", "/readyz", role=None, kind="public", summary="The database answers")
async def readyz(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    try:
        await ctx.ledger.db.read(lambda c: c.execute(sa.text("SELECT 1")).scalar())
    except Exception:
        return web.json_response({"status": "database unreachable"}, status=503)
    return web.json_response({"status": "ready"})
