"""The REST API for the town's other systems: same permissions as the console, per-tenant tokens."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from broadcaster.model import RawEvent
from broadcaster.model.manual import CONTENT_TYPE, ManualAlert, manual_alert_id
from broadcaster.pipeline.approval import ApprovalError, approve
from broadcaster.pipeline.ingest import submit
from broadcaster.pipeline.two_person import tenant_cancel_texts
from broadcaster.store import reports
from broadcaster.store.users import Role
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT, principal

api = Endpoints()
PREFIX = "/api/v1"


class Accepted(BaseModel):
    raw_event: str
    alert_id: str
    tenant: str


class Problem(BaseModel):
    error: str
    detail: Any = None


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False, default=_default))


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    raise TypeError(type(o).__name__)


def _tenant(request: web.Request) -> str:
    tenant = request.match_info["tenant"]
    if tenant not in request.app[CONTEXT].settings.tenants:
        # only reachable by someone with a role there
        raise web.HTTPNotFound(text=json.dumps({"error": "no such tenant"}), content_type="application/json")
    return tenant


LIMIT = ("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50})


@api.route("GET", f"{PREFIX}/tenants/{{tenant}}/alerts", role=Role.VIEWER, kind="api", summary="Recent alerts of a tenant", tags=("alerts",), query=(LIMIT,))
async def list_alerts(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    given = request.query.get("limit", "50")
    if not given.isascii() or not given.isdigit() or not 1 <= int(given) <= 500:
        return _json({"error": "limit is a whole number from 1 to 500"}, 400)
    return _json({"alerts": await reports.alerts(ctx.ledger, tenant=tenant, limit=int(given))})


@api.route("GET", f"{PREFIX}/tenants/{{tenant}}/alerts/{{alert_id}}", role=Role.VIEWER, kind="api", summary="One alert with its deliveries per channel", tags=("alerts",))
async def get_alert(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    alert = await ctx.ledger.alert(tenant, request.match_info["alert_id"])
    if alert is None:
        return _json({"error": "no such alert"}, 404)
    rows = await reports.channel_table(ctx.ledger, tenant=tenant, alert_id=alert.identifier)
    return _json(
        {
            "alert": json.loads(alert.model_dump_json(by_alias=True, exclude_none=True)),
            "state": await ctx.ledger.alert_state(tenant, alert.identifier),
            "channels": [asdict(r) for r in rows],
        }
    )


@api.route("POST", f"{PREFIX}/tenants/{{tenant}}/alerts", role=Role.OPERATOR, kind="api", summary="Send a manual alert (held for approval where the rules say)", body=ManualAlert, response=Accepted, tags=("alerts",))
async def post_alert(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = principal(request)
    assert who is not None
    body = await request.read()
    try:
        manual = ManualAlert.model_validate_json(body)
    except ValidationError as e:
        # Without the input: it may be bytes that are not UTF-8, which JSON cannot carry (fuzzing).
        return _json({"error": "invalid alert", "detail": json.loads(e.json(include_url=False, include_input=False))}, 422)
    if manual.tenant not in (None, tenant):
        return _json({"error": "the alert names another tenant"}, 422)
    raw = RawEvent(
        source="manual",
        content_type=CONTENT_TYPE,
        body=body,
        tenant=tenant,
        submitted_by=who.identity,
        source_ref=f"api:{request.remote or '-'}",
    )
    await submit(ctx.bus, raw, ctx.ledger)
    await ctx.ledger.audit(actor=who.identity, action="send", tenant=tenant, target=raw.id, origin=request.remote, detail={"status": manual.status, "kind": manual.kind.value, "headline": manual.headline})
    return _json(Accepted(raw_event=raw.id, alert_id=manual_alert_id(tenant, raw.id), tenant=tenant).model_dump(), 202)


@api.route("POST", f"{PREFIX}/tenants/{{tenant}}/alerts/{{alert_id}}/approve", role=Role.APPROVER, kind="api", summary="Approve a held alert (an officer, never its author; never an API token)", tags=("alerts",), errors=(403, 409))
async def approve_alert(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = principal(request)
    assert who is not None
    if who.kind != "user":
        # Two tokens of one town are not two people (docs/approval.md).
        return _json({"error": "an API token cannot approve: a second officer approves, signed in with a second factor"}, 403)
    try:
        n = await approve(
            ctx.bus,
            ctx.ledger,
            tenant,
            request.match_info["alert_id"],
            who.identity,
            origin=request.remote or "api",
            cancel_texts=tenant_cancel_texts(ctx.settings.templates_dir, tenant),
        )
    except ApprovalError as e:
        return _json({"error": str(e)}, 409)
    return _json({"approved": request.match_info["alert_id"], "dispatches": n})


@api.route("GET", f"{PREFIX}/tenants/{{tenant}}/quarantine", role=Role.ADMIN, kind="api", summary="Input refused with its reason", tags=("operations",))
async def quarantine(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    rows = [q for q in await reports.quarantine(ctx.ledger, limit=200) if q["tenant"] in (None, tenant)]
    return _json({"quarantine": rows})


@api.route("GET", f"{PREFIX}/openapi.json", role=None, kind="public", summary="This API's OpenAPI document", tags=("meta",))
async def openapi(request: web.Request) -> web.StreamResponse:
    from broadcaster.web.openapi import document

    return _json(document(request.app))
