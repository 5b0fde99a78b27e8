"""Liveness and readiness for load balancers and orchestrators; they reveal nothing else."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web

from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT

health = Endpoints()


@health.route("GET", "/healthz", role=None, kind="public", summary="The process answers")
async def healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


@health.route("GET", "/readyz", role=None, kind="public", summary="The database answers")
async def readyz(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    try:
        await ctx.ledger.db.read(lambda c: c.execute(sa.text("SELECT 1")).scalar())
    except Exception:
        return web.json_response({"status": "database unreachable"}, status=503)
    return web.json_response({"status": "ready"})
