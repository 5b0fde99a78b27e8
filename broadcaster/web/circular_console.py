"""The officers' circular pages under /t/<tenant>/circulars: who read, confirmed and replied, per
district; the answers summed; whom to phone; write, release, call off; revoke a leader's link.

Viewers see, operators write (the roles of broadcaster/web/endpoints.py); every form carries the
session's CSRF token, which the auth middleware checks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from broadcaster.circulars import report, routine
from broadcaster.circulars import store as cs
from broadcaster.circulars.forms import HEADCOUNT_FIELDS, SAFETY_FIELDS, describe
from broadcaster.circulars.records import NoticeState
from broadcaster.store.users import Role
from broadcaster.web.circular_leader import attachment_response
from broadcaster.web.circular_web import of, parse_local
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT, LANG, principal
from broadcaster.web.pages import render, zone_of

circular_console = Endpoints()

STATES = {
    "scheduled": ("配信予約", "scheduled"),
    "released": ("配信済み", "sent"),
    "cancelled": ("取消", "cancelled"),
    "superseded": ("更新済み", "superseded"),
}
FORM_NAMES = {"none": ("確認のみ", "confirmation only"), "safety": ("安否確認", "safety check"), "headcount": ("避難者数", "head-count"), "yesno": ("はい・いいえ", "yes / no")}


def _tenant(request: web.Request) -> Any:
    tenant = request.app[CONTEXT].settings.tenants.get(request.match_info["tenant"])
    if tenant is None:
        raise web.HTTPNotFound(text="no such municipality")
    return tenant


def _actor(request: web.Request) -> str:
    who = principal(request)
    assert who is not None
    return who.identity


def _may_write(request: web.Request, tenant: str) -> bool:
    who = principal(request)
    return who is not None and who.may(tenant, Role.OPERATOR)


def _page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    lang = request.get(LANG, "ja")
    return render(
        request,
        template,
        status=status,
        en=lang == "en",
        states=STATES,
        form_names=FORM_NAMES,
        **context,
    )


@circular_console.route("GET", "/t/{tenant}/circulars", role=Role.VIEWER, kind="page", summary="Circulars of a town")
async def circular_list(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    svc = of(request)
    rows = []
    for c in await cs.circulars_of(svc.db, tenant.id):
        people = await cs.deliveries(svc.db, c.id)
        leaders = [d for d in people if d.role == "leader"]
        rows.append(
            {
                "c": c,
                "people": len(leaders),
                "opened": sum(d.opened_at is not None for d in leaders),
                "confirmed": sum(d.confirmed_at is not None for d in people),
                "answered": sum(d.answered_at is not None for d in people),
                "late": sum(d.officers_at is not None and d.confirmed_at is None for d in people),
            }
        )
    circular, coverage = await report.coverage(svc.db, svc.settings, tenant.id)
    return _page(
        request,
        "circular/console_list.html",
        tenant=tenant,
        rows=rows,
        coverage=coverage,
        coverage_of=circular,
        may_write=_may_write(request, tenant.id),
    )


def _blank() -> dict[str, Any]:
    return {"title": "", "body": "", "districts": [], "form": "none", "question": "", "due": "", "release_at": "", "drill": False}


@circular_console.route("GET", "/t/{tenant}/circulars/new", role=Role.OPERATOR, kind="page", summary="Write a circular")
async def circular_new(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    cfg = request.app[CONTEXT].settings.circulars
    return _page(request, "circular/console_new.html", tenant=tenant, values=_blank(), problems=[], limits=cfg)


@circular_console.route("POST", "/t/{tenant}/circulars", role=Role.OPERATOR, kind="page", summary="Store a circular and schedule its release")
async def circular_create(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    svc = of(request)
    cfg = svc.settings.circulars
    if request.content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return _page(request, "circular/console_new.html", status=400, tenant=tenant, values=_blank(), problems=["フォームから送ってください。"], limits=cfg)
    form = await request.post()
    values: dict[str, Any] = {
        "title": str(form.get("title", "")),
        "body": str(form.get("body", "")),
        "districts": [str(v) for v in form.getall("districts", []) if isinstance(v, str)],
        "form": str(form.get("form", "none")),
        "question": str(form.get("question", "")),
        "due": str(form.get("due", "")),
        "release_at": str(form.get("release_at", "")),
        "drill": form.get("drill") == "1",
    }
    # A file over the limit is read one byte past it: enough to refuse it, never all of it.
    files = [
        (f.filename or "", f.file.read(cfg.max_attachment_bytes + 1))
        for f in form.getall("files", [])
        if isinstance(f, web.FileField) and f.filename
    ]
    problems: list[str] = []
    due: datetime | None = None
    release_at: datetime | None = None
    try:
        tz = zone_of(request, tenant)
        due = parse_local(values["due"], tz)
        release_at = parse_local(values["release_at"], tz)
    except ValueError as e:
        problems.append(str(e))
    if not problems:
        spec = routine.RoutineSpec(
            title=values["title"],
            body=values["body"],
            districts=tuple(values["districts"]),
            form=values["form"],
            question=values["question"],
            due=due,
            release_at=release_at,
            drill=bool(values["drill"]),
        )
        try:
            circular_id = await routine.create(svc, tenant.id, spec, files, _actor(request))
        except routine.RoutineError as e:
            problems = e.problems
        else:
            await svc.ledger.audit(actor=_actor(request), action="circular_created", tenant=tenant.id, target=circular_id, origin=request.remote, detail={"title": values["title"][:100], "files": len(files)})
            raise web.HTTPSeeOther(f"/t/{tenant.id}/circulars/{circular_id}")
    return _page(request, "circular/console_new.html", status=422, tenant=tenant, values=values, problems=problems, limits=cfg)


@circular_console.route("GET", "/t/{tenant}/circulars/{circular}", role=Role.VIEWER, kind="page", summary="One circular: per district read, confirmed, replied")
async def circular_detail(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    svc = of(request)
    c = await cs.circular(svc.db, request.match_info["circular"], tenant.id)
    if c is None:
        raise web.HTTPNotFound(text="no such circular")
    summary = await report.summary(svc.db, svc.settings, c)
    notices = await cs.notice_states(svc.db, c.id)
    problems: dict[str, list[str]] = {}
    for n in notices:
        if n["state"] in (NoticeState.FAILED, NoticeState.DEAD):
            problems.setdefault(n["delivery_id"], []).append(f"{n['channel']}: {n['error'] or n['state']}")
    return _page(
        request,
        "circular/console_detail.html",
        tenant=tenant,
        c=c,
        s=summary,
        total=summary.total,
        files=await cs.attachments(svc.db, c.id),
        events=(await cs.events(svc.db, c.id))[-50:],
        problems=problems,
        who_of={d.id: d.who for d in summary.deliveries},
        describe=describe,
        safety=SAFETY_FIELDS,
        headcount=HEADCOUNT_FIELDS,
        may_write=_may_write(request, tenant.id),
    )


@circular_console.route("GET", "/t/{tenant}/circulars/{circular}/export.csv", role=Role.VIEWER, kind="page", summary="One circular's deliveries and answers as CSV")
async def circular_csv(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    svc = of(request)
    c = await cs.circular(svc.db, request.match_info["circular"], tenant.id)
    if c is None:
        raise web.HTTPNotFound(text="no such circular")
    return csv_response(report.to_csv(await report.summary(svc.db, svc.settings, c), svc.settings), c.id)


def csv_response(text: str, circular_id: str) -> web.Response:
    return web.Response(
        body=text.encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote('回覧_' + circular_id + '.csv')}",
            "Cache-Control": "private, no-store",
        },
    )


@circular_console.route("GET", "/t/{tenant}/circulars/{circular}/files/{file}", role=Role.VIEWER, kind="page", summary="An attachment of a circular")
async def circular_file(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    svc = of(request)
    c = await cs.circular(svc.db, request.match_info["circular"], tenant.id)
    found = await cs.attachment(svc.db, c.id, request.match_info["file"]) if c is not None else None
    if found is None:
        raise web.HTTPNotFound(text="no such file")
    info, data = found
    return attachment_response(info.filename, info.content_type, data)


async def _done(request: web.Request, ok: bool, action: str, **detail: Any) -> web.StreamResponse:
    tenant = request.match_info["tenant"]
    circular_id = request.match_info["circular"]
    if not ok:
        raise web.HTTPConflict(text="this circular cannot do that now (it may have been released or cancelled meanwhile)")
    await of(request).ledger.audit(actor=_actor(request), action=action, tenant=tenant, target=circular_id, origin=request.remote, detail=detail)
    raise web.HTTPSeeOther(f"/t/{tenant}/circulars/{circular_id}")


async def _known(request: web.Request) -> Any:
    tenant = _tenant(request)
    c = await cs.circular(of(request).db, request.match_info["circular"], tenant.id)
    if c is None:
        raise web.HTTPNotFound(text="no such circular")
    return tenant


@circular_console.route("POST", "/t/{tenant}/circulars/{circular}/release", role=Role.OPERATOR, kind="page", summary="Release a scheduled circular now")
async def circular_release(request: web.Request) -> web.StreamResponse:
    tenant = await _known(request)
    ok = await routine.release_now(of(request), tenant.id, request.match_info["circular"], _actor(request))
    return await _done(request, ok, "circular_released")


@circular_console.route("POST", "/t/{tenant}/circulars/{circular}/cancel", role=Role.OPERATOR, kind="page", summary="Call off a routine circular")
async def circular_cancel(request: web.Request) -> web.StreamResponse:
    tenant = await _known(request)
    ok = await routine.call_off(of(request), tenant.id, request.match_info["circular"], _actor(request))
    return await _done(request, ok, "circular_cancelled")


@circular_console.route("POST", "/t/{tenant}/circulars/{circular}/deliveries/{delivery}/revoke", role=Role.OPERATOR, kind="page", summary="Revoke a leader's link (and send a new one)")
async def circular_revoke(request: web.Request) -> web.StreamResponse:
    tenant = await _known(request)
    resend = False
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        resend = (await request.post()).get("resend") == "1"
    version = await routine.revoke_link(
        of(request), tenant.id, request.match_info["circular"], request.match_info["delivery"], _actor(request), resend=resend
    )
    if version is None:
        raise web.HTTPNotFound(text="no such delivery")
    return await _done(request, True, "circular_link_revoked", delivery=request.match_info["delivery"], resend=resend)
