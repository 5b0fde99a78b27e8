"""The console's page of a town's quotas (LINE messages, X credits, Bluesky writes): a page of
its own, asked when an officer opens it, so that the dashboard's refreshes never call LINE."""

from __future__ import annotations

from aiohttp import web

from broadcaster import quota
from broadcaster.store.users import Role
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT
from broadcaster.web.pages import render

quota_pages = Endpoints()


@quota_pages.route("GET", "/t/{tenant}/quotas", role=Role.VIEWER, kind="page", summary="A town's provider quotas")
async def quotas(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = ctx.settings.tenants.get(request.match_info["tenant"])
    if tenant is None:
        raise web.HTTPNotFound(text="no such town")
    # Asked through the process's adapters (its LINE, X and Bluesky clients), not a pool made
    # and torn down for each view.
    found = await quota.collect(ctx.settings, tenant=tenant.id, pool=ctx.runtime.adapters)
    return render(request, "console/quotas.html", tenant=tenant, quotas=found)
