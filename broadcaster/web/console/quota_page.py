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
    settings = request.app[CONTEXT].settings
    tenant = settings.tenants.get(request.match_info["tenant"])
    if tenant is None:
        raise web.HTTPNotFound(text="no such town")
    found = await quota.collect(settings, tenant=tenant.id)
    return render(request, "console/quotas.html", tenant=tenant, quotas=found)
