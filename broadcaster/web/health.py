"""Liveness and readiness for load balancers and orchestrators; they reveal nothing else."""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from aiohttp import web

from broadcaster.metrics import METRICS
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT

health = Endpoints()


@health.route("GET", "/healthz", role=None, kind="public", summary="The process answers")
async def healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


@health.route("GET", "/metrics", role=None, kind="hook", summary="Prometheus metrics")
async def metrics(request: web.Request) -> web.StreamResponse:
    token = request.app[CONTEXT].settings.web.metrics_token
    if token is not None:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token.get_secret_value()}".encode()):
            return web.json_response({"error": "metrics token required"}, status=401)
    return web.Response(body=METRICS.exposition(), content_type="text/plain", charset="utf-8")


@health.route("GET", "/readyz", role=None, kind="public", summary="The database answers")
async def readyz(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    try:
        await ctx.ledger.db.read(lambda c: c.execute(sa.text("SELECT 1")).scalar())
    except Exception:
        return web.json_response({"status": "database unreachable"}, status=503)
    return web.json_response({"status": "ready"})
