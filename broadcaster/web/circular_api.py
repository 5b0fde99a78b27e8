"""The circulars through the REST API (/api/v1/tenants/<tenant>/circulars...): the same figures and
actions as the console, for the town's other systems; per-tenant tokens, the same roles."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from broadcaster.circulars import report, routine
from broadcaster.circulars import store as cs
from broadcaster.circulars.records import Circular, CircularState
from broadcaster.store.users import Role
from broadcaster.web.circular_console import csv_response
from broadcaster.web.circular_web import of
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT, principal

circular_api = Endpoints()
PREFIX = "/api/v1/tenants/{tenant}/circulars"


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(max_length=200)
    content_base64: str


class CircularIn(BaseModel):
    """An officer's routine circular; `release_at` absent: now."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=10_000)
    districts: list[str] = Field(default_factory=list, max_length=100)
    form: str = "none"
    question: str | None = None
    due: AwareDatetime | None = None
    release_at: AwareDatetime | None = None
    drill: bool = False
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)


class Created(BaseModel):
    id: str
    state: str


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False, default=_default))


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    raise TypeError(type(o).__name__)


def _tenant(request: web.Request) -> str:
    tenant = request.match_info["tenant"]
    if tenant not in request.app[CONTEXT].settings.tenants:
        raise web.HTTPNotFound(text="no such tenant")
    return tenant


def _circular_json(c: Circular) -> dict[str, Any]:
    return {
        "id": c.id,
        "origin": c.origin,
        "kind": c.kind,
        "alert_id": c.alert_id,
        "status": c.status,
        "title": c.title,
        "form": c.form,
        "question": c.question,
        "districts": list(c.districts),
        "state": c.state,
        "due": c.due,
        "release_at": c.release_at,
        "released_at": c.released_at,
        "created": c.created,
        "created_by": c.created_by,
    }


@circular_api.route("GET", PREFIX, role=Role.VIEWER, kind="api", summary="Circulars of a tenant", tags=("circulars",))
async def api_list(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    return _json({"circulars": [_circular_json(c) for c in await cs.circulars_of(of(request).db, tenant)]})


@circular_api.route("POST", PREFIX, role=Role.OPERATOR, kind="api", summary="Write a routine circular (released by the scheduler)", body=CircularIn, response=Created, tags=("circulars",), status=201)
async def api_create(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    svc = of(request)
    try:
        body = CircularIn.model_validate_json(await request.read())
    except ValidationError as e:
        # Without the input: bytes that are not UTF-8 cannot be put in JSON (found by fuzzing).
        return _json({"error": "invalid circular", "detail": json.loads(e.json(include_url=False, include_input=False))}, 422)
    files: list[tuple[str, bytes]] = []
    for a in body.attachments:
        try:
            files.append((a.filename, base64.b64decode(a.content_base64, validate=True)))
        except (binascii.Error, ValueError):
            return _json({"error": "invalid circular", "detail": [f"{a.filename}: not base64"]}, 422)
    spec = routine.RoutineSpec(body.title, body.body, tuple(body.districts), body.form, body.question, body.due, body.release_at, body.drill)
    who = principal(request)
    assert who is not None
    try:
        circular_id = await routine.create(svc, tenant, spec, files, who.identity)
    except routine.RoutineError as e:
        return _json({"error": "invalid circular", "detail": e.problems}, 422)
    await svc.ledger.audit(actor=who.identity, action="circular_created", tenant=tenant, target=circular_id, origin=request.remote, detail={"title": body.title, "files": len(files)})
    return _json(Created(id=circular_id, state=CircularState.SCHEDULED).model_dump(), 201)


@circular_api.route("GET", PREFIX + "/coverage", role=Role.VIEWER, kind="api", summary="Per district, households confirmed by the latest safety check", tags=("circulars",))
async def api_coverage(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    svc = of(request)
    c, rows = await report.coverage(svc.db, svc.settings, tenant, request.query.get("circular") or None)
    return _json(
        {
            "circular": c.id if c else None,
            "districts": [
                {
                    "district": r.district,
                    "name": r.name,
                    "households": r.households,
                    "confirmed": r.confirmed,
                    "share": r.share,
                    "safe": r.safe,
                    "need_help": r.need_help,
                    "unreachable": r.unreachable,
                    "leaders": r.leaders,
                    "leaders_confirmed": r.leaders_confirmed,
                }
                for r in rows
            ],
        }
    )


async def _circular(request: web.Request) -> Circular:
    c = await cs.circular(of(request).db, request.match_info["circular"], _tenant(request))
    if c is None:
        raise web.HTTPNotFound(text="no such circular")
    return c


@circular_api.route("GET", PREFIX + "/{circular}", role=Role.VIEWER, kind="api", summary="One circular: per district read, confirmed, replied; answers summed; each person", tags=("circulars",))
async def api_detail(request: web.Request) -> web.StreamResponse:
    svc = of(request)
    c = await _circular(request)
    s = await report.summary(svc.db, svc.settings, c)
    return _json(
        {
            "circular": _circular_json(c),
            "districts": [
                {
                    "district": r.district,
                    "name": r.name,
                    "leaders": r.people,
                    "deputies": r.deputies,
                    "opened": r.opened,
                    "confirmed": r.confirmed,
                    "answered": r.answered,
                    "answers": {**r.sums, **({"yes": r.yes, "no": r.no} if c.form == "yesno" else {})},
                    "households": r.households,
                    "coverage": r.coverage if c.form == "safety" else None,
                }
                for r in s.districts
            ],
            "deliveries": [
                {
                    "id": d.id,
                    "district": d.district,
                    "role": d.role,
                    "who": d.who,
                    "opened_at": d.opened_at,
                    "confirmed_at": d.confirmed_at,
                    "answered_at": d.answered_at,
                    "answer": s.latest.get(d.id),
                    "reminded_at": d.reminded_at,
                    "deputy_at": d.deputy_at,
                    "officers_at": d.officers_at,
                }
                for d in s.deliveries
            ],
            "to_phone": [{"delivery": d.id, "who": d.who, "district": d.district, "phones": phones} for d, phones in s.escalated],
        }
    )


@circular_api.route("GET", PREFIX + "/{circular}/export.csv", role=Role.VIEWER, kind="api", summary="One circular's deliveries and answers as CSV", tags=("circulars",))
async def api_csv(request: web.Request) -> web.StreamResponse:
    svc = of(request)
    c = await _circular(request)
    return csv_response(report.to_csv(await report.summary(svc.db, svc.settings, c), svc.settings), c.id)


@circular_api.route("POST", PREFIX + "/{circular}/release", role=Role.OPERATOR, kind="api", summary="Release a scheduled circular now", tags=("circulars",))
async def api_release(request: web.Request) -> web.StreamResponse:
    c = await _circular(request)
    who = principal(request)
    assert who is not None
    if not await routine.release_now(of(request), c.tenant, c.id, who.identity):
        return _json({"error": f"circular is {c.state}, not scheduled"}, 409)
    await of(request).ledger.audit(actor=who.identity, action="circular_released", tenant=c.tenant, target=c.id, origin=request.remote)
    return _json({"id": c.id, "release": "now"})


@circular_api.route("POST", PREFIX + "/{circular}/deliveries/{delivery}/revoke", role=Role.OPERATOR, kind="api", summary="Revoke a person's link; ?resend=1 sends a new one", tags=("circulars",))
async def api_revoke(request: web.Request) -> web.StreamResponse:
    c = await _circular(request)
    who = principal(request)
    assert who is not None
    resend = request.query.get("resend") == "1"
    version = await routine.revoke_link(of(request), c.tenant, c.id, request.match_info["delivery"], who.identity, resend=resend)
    if version is None:
        return _json({"error": "no such delivery"}, 404)
    await of(request).ledger.audit(actor=who.identity, action="circular_link_revoked", tenant=c.tenant, target=c.id, origin=request.remote, detail={"delivery": request.match_info["delivery"], "resend": resend})
    return _json({"delivery": request.match_info["delivery"], "link_version": version, "resent": resend})
