"""The duty officer's console: dashboard, compose and preview, approve, cancel, republish, watch.

Built for 3 a.m. under stress: one page per task, the state of every medium in plain words,
drills unmistakable, nothing sent that the officer has not seen exactly as it will go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from datetime import datetime, tzinfo
from typing import Any

from aiohttp import web

from broadcaster.logging import get_logger
from broadcaster.model import DISTRICT_CODE, JST, AlertState, MsgType, RawEvent, Status, now
from broadcaster.model.manual import CONTENT_TYPE, manual_alert_id
from broadcaster.pipeline import scheduled_sends, two_person
from broadcaster.pipeline.approval import ApprovalError, approve
from broadcaster.pipeline.held import HeldError, reject, withdraw
from broadcaster.pipeline.ingest import publish_raw, submit
from broadcaster.pipeline.republish import RepublishError, republish
from broadcaster.settings import TenantSettings
from broadcaster.store import followups, handoffs, reports
from broadcaster.store.users import Principal, Role
from broadcaster.web.console import compose as c
from broadcaster.web.console import queries as q
from broadcaster.web.console import quota_flags, text_checks
from broadcaster.web.console.consistency import open_alarms
from broadcaster.web.console.names import clock
from broadcaster.web.console.receivers import silent_receivers
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CLOSING, CONTEXT, LANG, principal
from broadcaster.web.pages import client_ip, render, zone_of

log = get_logger(__name__)
console = Endpoints()

PREVIEW_LANGUAGES = ("ja", "ja-x-easy", "en", "vi", "zh-Hans", "ko", "pt")


def _tenant(request: web.Request) -> TenantSettings:
    tenant_id = request.match_info["tenant"]
    tenant = request.app[CONTEXT].settings.tenants.get(tenant_id)
    if tenant is None:
        raise web.HTTPNotFound(text="no such municipality")
    return tenant


def _me(request: web.Request) -> Principal:
    who = principal(request)
    assert who is not None
    return who


# -- dashboard ---------------------------------------------------------------------------------


@console.route("GET", "/t/{tenant}/", role=Role.VIEWER, kind="page", summary="A town's dashboard")
async def dashboard(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = _me(request)
    feeds, on_backup = await q.sources(ctx.settings, ctx.ledger)
    return render(
        request,
        "console/dashboard.html",
        tenant=tenant,
        feeds=feeds,
        on_backup=on_backup,
        role=who.role_in(tenant.id),
        held=await q.held_alerts(ctx.ledger, tenant.id),
        recent=await q.recent_alerts(ctx.ledger, tenant.id),
        failures=await q.failures(ctx.ledger, tenant.id),
        # 緊急速報メール handed to the officers and not confirmed yet (console/handoff.py)
        handoffs_waiting=await handoffs.waiting(ctx.ledger.db, tenant.id),
        # J-Alert receivers not heard within their interval, or whose bridge went quiet (console/receivers.py)
        receivers_silent=await silent_receivers(ctx.settings, ctx.ledger.db, tenant.id),
        # Media that say something else than the ledger (console/consistency.py)
        consistency_alarms=await open_alarms(ctx.ledger.db, tenant.id),
        Role=Role,
    )


# -- compose -----------------------------------------------------------------------------------


@console.route("GET", "/t/{tenant}/compose", role=Role.OPERATOR, kind="page", summary="Compose an alert")
async def compose_form(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    presets = c.presets(ctx.settings, tenant.id)
    chosen = next((p for p in presets if p.id == request.query.get("preset")), None)
    draft = c.Draft(
        preset=chosen.id if chosen else "",
        msg_type=request.query.get("msg_type", "Alert")
        if request.query.get("msg_type") in ("Alert", "Update")
        else "Alert",
        references=[request.query["ref"]] if request.query.get("ref") else [],
    )
    if draft.msg_type == "Update" and draft.references:
        # A correction starts from the original, not from a blank form.
        ref = draft.references[0]
        original = await ctx.ledger.alert(tenant.id, ref)
        standing = await followups.standing(ctx.ledger.db, tenant.id, ref)
        if original is None or standing is None:
            raise web.HTTPNotFound(text="no such alert")
        if not standing.open:
            latest = standing.superseded_by.identifier if standing.superseded_by else None
            return _refused(request, tenant, ref, _not_open(standing, request.get(LANG, "ja"), zone_of(request, tenant)), latest or ref)
        c.from_original(draft, original, tenant)
        chosen = next((p for p in presets if p.id == draft.preset), chosen)
    elif chosen is not None:
        draft.put(c.prefill(chosen, tenant, [], ""))
        draft.filled = c.text_digest(draft.texts())
    return render(
        request,
        "console/compose.html",
        tenant=tenant,
        presets=presets,
        draft=draft,
        error=None,
        chosen=chosen,
    )


def _not_open(standing: followups.Standing, lang: str, tz: tzinfo = JST) -> str:
    refusal = _cancel_refusal(standing, lang, tz)
    return refusal[0] if refusal else ""


@console.route(
    "POST",
    "/t/{tenant}/compose/preview",
    role=Role.OPERATOR,
    kind="page",
    summary="Preview an alert on every medium",
)
async def compose_preview(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = _me(request)
    form = await request.post()
    draft = c.Draft.from_form(form)
    presets = c.presets(ctx.settings, tenant.id)
    chosen = next((p for p in presets if p.id == draft.preset), None)
    if chosen is None:
        return render(
            request,
            "console/compose.html",
            status=422,
            tenant=tenant,
            presets=presets,
            draft=draft,
            chosen=None,
            error="テンプレートを選んでください（Choose a template）",
        )
    if form.get("undo") and draft.previous:
        draft.put({key: draft.previous.get(key, "") for key in ("headline", "description", "instruction")})
        draft.previous = {}
        return render(
            request, "console/compose.html", tenant=tenant, presets=presets, draft=draft, chosen=chosen, error=None
        )
    if form.get("refill"):
        texts = c.prefill(chosen, tenant, draft.districts, draft.shelters)
        if draft.typed and form.get("refill") != "replace":
            # Typed text is never replaced silently (Enter in the headline used to do it): ask.
            return render(
                request,
                "console/compose.html",
                tenant=tenant,
                presets=presets,
                draft=draft,
                chosen=chosen,
                error=None,
                proposed=texts,
            )
        draft.previous = draft.texts() if any(draft.texts().values()) else {}
        draft.put(texts)
        draft.filled = c.text_digest(texts)
        return render(
            request, "console/compose.html", tenant=tenant, presets=presets, draft=draft, chosen=chosen, error=None
        )
    try:
        doc = c.manual_document(draft, chosen, tenant)
    except c.ComposeError as e:
        return render(
            request,
            "console/compose.html",
            status=422,
            tenant=tenant,
            presets=presets,
            draft=draft,
            chosen=chosen,
            error=str(e),
        )
    # The id it will be sent under: links in the preview are the sent ones, and sending the same
    # preview twice (a double click, the back button) makes one alert.
    raw_id = uuid.uuid4().hex
    alert = c.preview_alert(doc, tenant, who.identity, raw_id)
    changes: list[c.Change] = []
    if doc.get("msgType") == "Update" and doc.get("references"):
        original = await ctx.ledger.alert(tenant.id, str(doc["references"][0]))
        if original is not None:
            changes = c.changes(original, alert)
    rt = ctx.runtime
    rows = await rt.renderer.lane.run(q.preview_rows, rt, alert, tenant, PREVIEW_LANGUAGES)
    table = await q.decision_table(rt, alert)
    refused_by_quota = await quota_flags.flags(ctx.settings, rt.adapters, tenant.id, table, rows)
    return render(
        request,
        "console/preview.html",
        quota_flags=refused_by_quota,
        tenant=tenant,
        draft=draft,
        chosen=chosen,
        doc=doc,
        doc_json=json.dumps(doc, ensure_ascii=False),
        signature=c.digest(doc, (who.csrf_token or "").encode(), raw_id),
        raw_id=raw_id,
        rows=rows,
        row_groups=_by_channel(rows),
        table=table,
        actual=doc["status"] == "Actual",
        changes=changes,
        warnings=text_checks.check(doc, tenant),
        summary=q.preview_summary(table),
        district_names={d.id: d.name for d in tenant.districts},
    )


def _by_channel(rows: list[Any]) -> list[tuple[str, list[Any]]]:
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(row.channel, []).append(row)
    return list(groups.items())


@console.route(
    "POST", "/t/{tenant}/compose/send", role=Role.OPERATOR, kind="page", summary="Send what was previewed"
)
async def compose_send(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    who = _me(request)
    form = await request.post()
    doc = _verified_doc(form, who, tenant)
    raw_id = str(form.get("raw_id", ""))
    alert_id = await _send_manual(
        request,
        doc,
        action="send",
        target=None,
        detail={
            "status": doc["status"],
            "msgType": doc.get("msgType"),
            "headline": doc.get("headline"),
            "template": doc.get("template"),
        },
        once_as=raw_id or None,
    )
    if alert_id is None:
        sent = manual_alert_id(tenant.id, raw_id)
        lang = request.get(LANG, "ja")
        message = (
            "This preview was already sent; it was not sent again."
            if lang == "en"
            else "このプレビューの内容はすでに送信されています。もう一度は送信しませんでした。"
        )
        return _refused(request, tenant, sent, message, sent)
    raise web.HTTPSeeOther(f"/t/{tenant.id}/alerts/{alert_id}")


def _verified_doc(form: Any, who: Any, tenant: Any) -> dict[str, Any]:
    """The composed alert exactly as previewed, or a refusal the officer understands."""
    try:
        doc = json.loads(str(form.get("doc", "")))
    except json.JSONDecodeError as e:
        raise web.HTTPBadRequest(text="the previewed alert is missing") from e
    raw_id = str(form.get("raw_id", ""))
    if raw_id and not re.fullmatch(r"[0-9a-f]{32}", raw_id):
        raise web.HTTPBadRequest(text="bad preview id")
    if not isinstance(doc, dict) or not c.same(
        doc, (who.csrf_token or "").encode(), str(form.get("signature", "")), raw_id
    ):
        raise web.HTTPConflict(
            text="内容がプレビューと違います。もう一度プレビューしてください。 (Changed since the preview: preview again.)"
        )
    if doc.get("tenant") != tenant.id:
        raise web.HTTPForbidden(text="another municipality's alert")
    if doc["status"] == "Actual" and form.get("confirm_actual") != "yes":
        raise web.HTTPBadRequest(
            text="実際の情報として送るには確認欄にチェックしてください。 (Confirm that this is not a drill.)"
        )
    if text_checks.check(doc, tenant) and form.get("confirm_warnings") != "yes":
        raise web.HTTPBadRequest(
            text="プレビューの注意をすべて確認し、確認欄にチェックしてください。 (Confirm the preview's warnings.)"
        )
    return doc


@console.route(
    "POST",
    "/t/{tenant}/compose/schedule",
    role=Role.OPERATOR,
    kind="page",
    summary="Send what was previewed later, once or again and again",
)
async def compose_schedule(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = _me(request)
    form = await request.post()
    doc = _verified_doc(form, who, tenant)
    service = ctx.runtime.scheduler
    cron = str(form.get("cron", "")).strip()
    try:
        if cron:
            job = await scheduled_sends.schedule_recurring(service, tenant.id, doc, who.identity, cron)
        else:
            at = datetime.fromisoformat(str(form.get("send_at", "")))
            # The officer types the town's clock time (the form's label names the zone).
            at = at if at.tzinfo else at.replace(tzinfo=zone_of(request, tenant))
            if at <= now():
                raise ValueError("the time has passed")
            job = await scheduled_sends.schedule_once(service, tenant.id, doc, who.identity, at)
    except ValueError as e:
        raise web.HTTPBadRequest(
            text=f"日時または繰り返しの指定が正しくありません (bad time or repeat): {e}"
        ) from e
    await ctx.ledger.audit(
        actor=who.identity,
        action="schedule",
        tenant=tenant.id,
        target=job,
        origin=client_ip(request),
        detail={
            "cron": cron or None,
            "at": str(form.get("send_at", "")) or None,
            "headline": doc.get("headline"),
            "status": doc["status"],
        },
    )
    raise web.HTTPSeeOther(f"/t/{tenant.id}/schedules")


@console.route(
    "GET", "/t/{tenant}/schedules", role=Role.VIEWER, kind="page", summary="Scheduled and recurring sends"
)
async def schedules(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = _me(request)
    jobs = await scheduled_sends.tenant_jobs(ctx.runtime.scheduler, tenant.id)
    return render(
        request,
        "console/schedules.html",
        tenant=tenant,
        jobs=jobs,
        role=who.role_in(tenant.id),
        Role=Role,
    )


@console.route(
    "POST",
    "/t/{tenant}/schedules/{job}/delete",
    role=Role.OPERATOR,
    kind="page",
    summary="Call off a scheduled send",
)
async def schedule_delete(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = _me(request)
    job = request.match_info["job"]
    service = ctx.runtime.scheduler
    if not any(j["id"] == job for j in await scheduled_sends.tenant_jobs(service, tenant.id)):
        raise web.HTTPNotFound(text="no such scheduled send")  # another town's job is not ours to touch
    try:
        removed = await service.remove(job)
        failure = None if removed else "it was no longer scheduled (it may have just been sent)"
    except Exception as e:  # the job store could not be written: the send is still scheduled
        log.error("unschedule_failed", tenant=tenant.id, job=job, error=str(e)[:300])
        failure = f"the schedule could not be changed ({type(e).__name__}); the send is still scheduled"
    if failure is not None:
        # The record says what happened: an officer who believes a send called off must learn
        # that it was not, and the audit log must not show an 'unschedule' that did not happen.
        await ctx.ledger.audit(
            actor=who.identity,
            action="unschedule_failed",
            tenant=tenant.id,
            target=job,
            origin=client_ip(request),
            detail={"reason": failure},
        )
        raise web.HTTPConflict(
            text=f"予約を取り消せませんでした (the scheduled send was not called off): {failure}"
        )
    await ctx.ledger.audit(
        actor=who.identity, action="unschedule", tenant=tenant.id, target=job, origin=client_ip(request)
    )
    raise web.HTTPSeeOther(f"/t/{tenant.id}/schedules")


async def _send_manual(
    request: web.Request,
    doc: dict[str, Any],
    *,
    action: str,
    target: str | None,
    detail: dict[str, Any],
    once_as: str | None = None,
) -> str | None:
    """Put an officer's alert on the pipeline (recorded, then published) and audit it.

    With `once_as`, the raw event takes that id and goes out only if no raw event of that id was
    recorded before: None is returned and nothing is sent when one was.
    """
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = _me(request)
    raw = RawEvent(
        **({"id": once_as} if once_as else {}),
        source="manual",
        content_type=CONTENT_TYPE,
        body=json.dumps(doc, ensure_ascii=False).encode("utf-8"),
        tenant=tenant.id,
        submitted_by=who.identity,
        source_ref=f"console:{client_ip(request)}",
    )
    if once_as:
        if not await ctx.ledger.record_received_once(raw):
            return None
        await publish_raw(ctx.bus, raw)
    else:
        await submit(ctx.bus, raw, ctx.ledger)
    alert_id = manual_alert_id(tenant.id, raw.id)
    await ctx.ledger.audit(
        actor=who.identity,
        action=action,
        tenant=tenant.id,
        target=target or alert_id,
        origin=client_ip(request),
        detail={**detail, "alert": alert_id},
    )
    return alert_id


# -- one alert ---------------------------------------------------------------------------------


@console.route(
    "GET",
    "/t/{tenant}/alerts/{alert_id}",
    role=Role.VIEWER,
    kind="page",
    summary="One alert: text, deliveries, actions",
)
async def alert_detail(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = _me(request)
    alert_id = request.match_info["alert_id"]
    alert = await ctx.ledger.alert(tenant.id, alert_id)
    if alert is None:
        # Sent a moment ago: normalize has not recorded it yet. Say so rather than 404 — but only
        # for an id this town's console or API did submit; any other id is not "being processed".
        if await followups.submitted(ctx.ledger.db, tenant.id, alert_id):
            return render(request, "console/pending.html", tenant=tenant, alert_id=alert_id)
        lang = request.get(LANG, "ja")
        message = "There is no such alert." if lang == "en" else "この配信は見つかりません。"
        return render(
            request, "console/refused.html", status=404, tenant=tenant, alert_id=alert_id, message=message, link=None
        )
    return render(
        request,
        "console/alert.html",
        tenant=tenant,
        alert=alert,
        meta=await q.alert_meta(ctx.ledger, tenant.id, alert_id),
        deliveries=await q.deliveries(ctx.ledger, tenant.id, alert_id),
        standing=await followups.standing(ctx.ledger.db, tenant.id, alert_id),
        stopped=await q.stop_note(ctx.ledger, tenant.id, alert_id),
        reasons=two_person.offered_cancel_texts(c.cancel_reasons(ctx.settings, tenant.id), alert),
        role=who.role_in(tenant.id),
        me=who.identity,
        Role=Role,
        MsgType=MsgType,
        Status=Status,
    )


@console.route(
    "GET",
    "/t/{tenant}/alerts/{alert_id}/deliveries",
    role=Role.VIEWER,
    kind="page",
    summary="The delivery table (for live refresh)",
)
async def alert_deliveries(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    alert_id = request.match_info["alert_id"]
    who = _me(request)
    return render(
        request,
        "console/deliveries.html",
        tenant=tenant,
        alert_id=alert_id,
        deliveries=await q.deliveries(ctx.ledger, tenant.id, alert_id),
        meta=await q.alert_meta(ctx.ledger, tenant.id, alert_id),
        standing=await followups.standing(ctx.ledger.db, tenant.id, alert_id),
        role=who.role_in(tenant.id),
        Role=Role,
    )


@console.route(
    "POST",
    "/t/{tenant}/alerts/{alert_id}/approve",
    role=Role.APPROVER,
    kind="page",
    summary="Approve a held alert",
)
async def alert_approve(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = _me(request)
    alert_id = request.match_info["alert_id"]
    try:
        await approve(
            ctx.bus,
            ctx.ledger,
            tenant.id,
            alert_id,
            who.identity,
            origin=client_ip(request),
            cancel_texts=c.cancel_reasons(ctx.settings, tenant.id),
        )
    except ApprovalError as e:
        return _refused(request, tenant, alert_id, str(e), alert_id)
    raise web.HTTPSeeOther(f"/t/{tenant.id}/alerts/{alert_id}")


def _refused(
    request: web.Request, tenant: Any, alert_id: str, message: str, link: str | None = None
) -> web.Response:
    """A refusal a person can act on: what happened, and where to go instead (409)."""
    return render(
        request,
        "console/refused.html",
        status=409,
        tenant=tenant,
        alert_id=alert_id,
        message=message,
        link=link,
    )


def _cancel_refusal(standing: followups.Standing, lang: str, tz: tzinfo = JST) -> tuple[str, str | None] | None:
    """Why this alert cannot be cancelled now, and the alert to look at instead; None if it can."""
    en = lang == "en"
    if standing.msg_type == followups.CANCEL:
        return (
            "This is a cancellation; it cannot be cancelled."
            if en
            else "これは取消の配信です。取り消せません。"
        ), None
    if standing.cancelled_by is not None and standing.cancelled_by.state == AlertState.HELD:
        by = standing.cancelled_by
        return (
            f"A cancellation ({by.submitted_by or ''}) already waits for approval. Nothing was sent again."
            if en
            else f"取消はすでに作成され、承認待ちです（{by.submitted_by or ''}）。もう一度は送信しませんでした。"
        ), by.identifier
    if standing.cancelled_by is not None:
        by = standing.cancelled_by
        who = f" ({by.submitted_by})" if by.submitted_by else ""
        return (
            f"Already cancelled at {clock(by.sent, tz=tz)}{who}. Nothing was sent again."
            if en
            else f"この配信は {clock(by.sent, tz=tz)} にすでに取り消されています{who}。もう一度は送信しませんでした。"
        ), by.identifier
    if standing.superseded_by is not None:
        return (
            "A correction replaced this alert: cancel the correction instead."
            if en
            else "この配信は訂正で置き換えられています。取り消すには最新の訂正から操作してください。"
        ), standing.superseded_by.identifier
    if standing.state == AlertState.HELD:
        return (
            "Not sent yet: it waits for approval. Withdraw or reject it instead."
            if en
            else "まだ送信されていません（承認待ち）。取消ではなく「取り下げ」または「差し戻し」をしてください。"
        ), None
    if standing.state in (AlertState.WITHDRAWN, AlertState.REJECTED):
        return ("This alert was never sent." if en else "この配信は送信されていません。"), None
    return None


def _cancel_areas(info: Any) -> tuple[list[dict[str, str]], str]:
    """The original's districts (so the 取消 names the same area), and its area in words."""
    districts = [
        {"id": code, "name": area.area_desc} for area in info.area for code in area.codes(DISTRICT_CODE)
    ]
    words = "・".join(area.area_desc for area in info.area) or "全域"
    return districts, words


def _cancel_headline(info: Any) -> str:
    return two_person.cancel_headline(info)


@console.route(
    "POST",
    "/t/{tenant}/alerts/{alert_id}/cancel",
    role=Role.OPERATOR,
    kind="page",
    summary="Cancel a sent alert everywhere it went (asks for a confirmation first; once per alert)",
)
async def alert_cancel(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    alert_id = request.match_info["alert_id"]
    lang = request.get(LANG, "ja")
    form = await request.post()
    original = await ctx.ledger.alert(tenant.id, alert_id)
    standing = await followups.standing(ctx.ledger.db, tenant.id, alert_id)
    if original is None or standing is None:
        raise web.HTTPNotFound(text="no such alert")
    refusal = _cancel_refusal(standing, lang, zone_of(request, tenant))
    if refusal is not None:
        return _refused(request, tenant, alert_id, *refusal)
    # A source's alert (JMA, J-Alert, L-Alert) is withdrawn from the town's media with a relay
    # text, never with "sent in error"; both kinds of text are pre-approved (docs/approval.md).
    reason = next(
        (
            r
            for r in two_person.offered_cancel_texts(c.cancel_reasons(ctx.settings, tenant.id), original)
            if r.id == form.get("reason")
        ),
        None,
    )
    if reason is None:
        raise web.HTTPBadRequest(text="choose a cancellation text")
    info = original.primary
    districts, area_words = _cancel_areas(info)
    if form.get("confirm") != alert_id:
        # The confirmation names this alert, its areas and the media the 取消 will reach.
        media = [
            r.channel for r in await reports.channel_table(ctx.ledger, tenant=tenant.id, alert_id=alert_id)
        ]
        return render(
            request,
            "console/cancel_confirm.html",
            tenant=tenant,
            alert=original,
            reason=reason,
            areas=area_words,
            media=media,
            headline=_cancel_headline(info),
        )
    kind = next((code.value for code in info.event_code if code.value_name == "broadcaster:kind"), "notice")
    texts = two_person.cancel_texts_for(original, reason)
    doc: dict[str, Any] = {
        "tenant": tenant.id,
        "status": original.status.value,  # a drill's cancel is a drill too
        "msgType": "Cancel",
        "references": [original.identifier],
        "kind": kind,
        "event": info.event,
        "headline": texts["ja"][0],
        "description": texts["ja"][1],
        "urgency": "Immediate",
        "severity": "Minor",
        "certainty": "Observed",
        "translations": {"en": {"headline": texts["en"][0], "description": texts["en"][1]}},
    }
    if districts:
        doc["districts"] = districts
    elif area_words != "全域":
        doc["areaDesc"] = area_words
    cancel_id = await _send_manual(
        request,
        doc,
        action="cancel",
        target=alert_id,
        detail={"reason": reason.id},
        once_as=followups.cancel_raw_id(tenant.id, alert_id, standing.cancel_attempt),
    )
    if cancel_id is None:  # another request won the race a moment ago
        again = await followups.standing(ctx.ledger.db, tenant.id, alert_id)
        refusal = _cancel_refusal(again, lang, zone_of(request, tenant)) if again is not None else None
        return _refused(request, tenant, alert_id, *(refusal or ("already cancelled", None)))
    raise web.HTTPSeeOther(f"/t/{tenant.id}/alerts/{cancel_id}")


@console.route(
    "POST",
    "/t/{tenant}/alerts/{alert_id}/withdraw",
    role=Role.OPERATOR,
    kind="page",
    summary="The author takes back a held alert before anybody approved it",
)
async def alert_withdraw(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = _me(request)
    alert_id = request.match_info["alert_id"]
    try:
        await withdraw(ctx.ledger, tenant.id, alert_id, who.identity, origin=client_ip(request))
    except HeldError as e:
        return _refused(request, tenant, alert_id, str(e), alert_id)
    raise web.HTTPSeeOther(f"/t/{tenant.id}/alerts/{alert_id}")


@console.route(
    "POST",
    "/t/{tenant}/alerts/{alert_id}/reject",
    role=Role.APPROVER,
    kind="page",
    summary="A second officer refuses a held alert, with the reason",
)
async def alert_reject(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = _me(request)
    alert_id = request.match_info["alert_id"]
    form = await request.post()
    try:
        await reject(
            ctx.ledger,
            tenant.id,
            alert_id,
            who.identity,
            str(form.get("reason", "")),
            origin=client_ip(request),
        )
    except HeldError as e:
        return _refused(request, tenant, alert_id, str(e), alert_id)
    raise web.HTTPSeeOther(f"/t/{tenant.id}/alerts/{alert_id}")


@console.route(
    "POST",
    "/t/{tenant}/alerts/{alert_id}/republish",
    role=Role.OPERATOR,
    kind="page",
    summary="Send failed deliveries again",
)
async def alert_republish(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = _me(request)
    alert_id = request.match_info["alert_id"]
    form = await request.post()
    try:
        await republish(
            ctx.bus,
            ctx.ledger,
            tenant.id,
            alert_id,
            actor=who.identity,
            channel=str(form.get("channel") or "") or None,
            key=str(form.get("dispatch") or "") or None,
            origin=client_ip(request),
        )
    except RepublishError as e:
        raise web.HTTPNotFound(text=str(e)) from e
    raise web.HTTPSeeOther(f"/t/{tenant.id}/alerts/{alert_id}")


# -- live updates ------------------------------------------------------------------------------


@console.route(
    "GET", "/t/{tenant}/events", role=Role.VIEWER, kind="page", summary="Live updates (server-sent events)"
)
async def events(request: web.Request) -> web.StreamResponse:
    """Each second, what changed in this town's ledger: new alerts, deliveries moving."""
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    mark = await q.change_mark(ctx.ledger, tenant.id)
    await response.write(b"retry: 3000\n\n")
    closing = request.app[CLOSING]
    try:
        for _ in range(3600):  # an hour, then the browser reconnects (and re-authenticates)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing.wait(), timeout=1.0)
            if closing.is_set():
                break
            current = await q.change_mark(ctx.ledger, tenant.id)
            if current != mark:
                mark = current
                # Aware, in the town's zone like every time shown (docs/decisions.md, decision 8).
                payload = json.dumps({"at": now().astimezone(JST).isoformat(), "mark": list(map(str, current))})
                await response.write(f"event: change\ndata: {payload}\n\n".encode())
            else:
                await response.write(b": keep-alive\n\n")
    except ConnectionResetError:
        pass  # the browser went away; it reconnects if it wants more
    # A cancellation (the server stopping, the task cancelled) goes on up: swallowed, it would
    # leave the server waiting on a handler that believes it finished normally.
    return response


# -- audit -------------------------------------------------------------------------------------


@console.route("GET", "/t/{tenant}/audit", role=Role.ADMIN, kind="page", summary="The audit log")
async def audit_page(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    rows = await q.audit_rows(ctx.ledger, tenant.id, limit=500)
    # From the last checkpoint: a view costs the rows added since, not the whole log.
    checked, broken = await ctx.ledger.verify_audit_since()
    return render(request, "console/audit.html", tenant=tenant, rows=rows, checked=checked, broken=broken)


@console.route("GET", "/t/{tenant}/audit.csv", role=Role.ADMIN, kind="page", summary="The audit log as CSV")
async def audit_csv(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    body = q.audit_csv(await q.audit_rows(ctx.ledger, tenant.id, limit=100_000))
    return web.Response(
        body=body.encode("utf-8-sig"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{tenant.id}.csv"'},
    )
