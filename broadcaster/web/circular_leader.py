"""The district leader's page: one circular, opened by their personal link (/c/<token>).

No password, and nothing that needs JavaScript: large text, one big 確認しました button, the reply
form, the attachments. A small script (static/leader.js) only listens to /c/<token>/events and
redraws the page when the circular is cancelled or updated while it is open; without it the page
is right on the next reload. The link is the credential (broadcaster/circulars/links.py): it opens one circular
for one person, until it expires or an officer revokes it. Every answer is the same for a link
that never existed and one that was forged; an expired or revoked link says so and what to do.

Rate limits per client address: requests to these pages, and (much fewer) links refused, so that
guessing is slow even before the signature makes it hopeless.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from typing import Any
from urllib.parse import quote

from aiohttp import web
from markupsafe import Markup, escape

from broadcaster.circulars import forms
from broadcaster.circulars import store as cs
from broadcaster.circulars.links import LinkError
from broadcaster.circulars.records import Circular, CircularState, Delivery
from broadcaster.circulars.service import Circulars
from broadcaster.coverage import flags, marks, support
from broadcaster.logging import get_logger, hash_id
from broadcaster.store import routing
from broadcaster.web import sse
from broadcaster.web.circular_web import local_time, of
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CIRCULAR_LIMITERS
from broadcaster.web.middleware import from_our_site
from broadcaster.web.pages import client_ip, render, zone_of
from broadcaster.web.ratelimit import RateLimiter

log = get_logger(__name__)
leader_pages = Endpoints()

_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_LABELS = {"Exercise": "訓練", "Test": "試験", "Draft": "下書き", "System": "システム"}
# Link-preview fetchers (LINE's among them) open a link before the person does; their visit is
# no read receipt. Browsers say what they fetch (Sec-Fetch-Dest); old ones are told by elimination.
_NOT_PEOPLE = ("bot", "crawler", "spider", "preview", "facebookexternalhit", "line-poker", "slack", "discord", "whatsapp", "curl/", "wget/", "python", "go-http")


class _Refused(Exception):
    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__("refused")
        self.response = response


def _limiters(request: web.Request) -> tuple[RateLimiter, RateLimiter]:
    return request.app[CIRCULAR_LIMITERS]


def _problem(request: web.Request, status: int, heading: str, message: str, **headers: str) -> web.Response:
    response = render(request, "circular/problem.html", status=status, heading=heading, message=message)
    response.headers.update(headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def _too_many(request: web.Request, wait: float) -> web.Response:
    return _problem(
        request,
        429,
        "しばらくお待ちください",
        "短い時間にたくさんのアクセスがありました。1分ほど待ってから、もう一度開いてください。",
        **{"Retry-After": str(max(1, int(wait + 0.999)))},
    )


async def _open(request: web.Request) -> tuple[Circulars, Delivery, Circular]:
    """The delivery and circular a token opens, or a refusal page (raised as _Refused)."""
    pages, bad = _limiters(request)
    ip = client_ip(request)
    wait = pages.wait(ip)
    if wait:
        raise _Refused(_too_many(request, wait))
    svc = of(request)
    token = request.match_info["token"]
    signer = svc.signer
    unknown = _Refused(_problem(request, 404, "このリンクは開けません", "リンクが正しくありません。届いたメッセージのリンクを、そのまま開いてください。"))
    try:
        if signer is None:
            raise LinkError("no key")
        link = signer.verify(token, svc.clock())
    except LinkError as e:
        if e.reason == "expired":
            raise _Refused(
                _problem(request, 410, "このリンクは期限が切れました", "役場の担当者に連絡して、新しいリンクを送ってもらってください。")
            ) from e
        wait = bad.wait(ip)
        log.warning("circular_link_refused", reason=e.reason, client=hash_id(ip))
        if wait:
            raise _Refused(_too_many(request, wait)) from e
        raise unknown from e
    d = await cs.delivery(svc.db, link.delivery_id)
    if d is None:
        raise unknown
    if d.link_version != link.version:
        log.info("circular_link_revoked", delivery=d.id)
        raise _Refused(
            _problem(request, 410, "このリンクは使えなくなりました", "新しいリンクが届いていれば、そちらを開いてください。わからないときは役場の担当者に連絡してください。")
        )
    c = await cs.circular(svc.db, d.circular_id, d.tenant)
    if c is None or c.state == CircularState.SCHEDULED:
        raise unknown
    return svc, d, c


def _is_person(request: web.Request) -> bool:
    dest = request.headers.get("Sec-Fetch-Dest")
    if dest is not None:
        return dest == "document"
    agent = request.headers.get("User-Agent", "").lower()
    return bool(agent) and not any(word in agent for word in _NOT_PEOPLE)


def _paragraphs(text: str) -> Markup:
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    return Markup("").join(Markup("<p>{}</p>").format(Markup("<br>").join(escape(line) for line in b.split("\n"))) for b in blocks)


def _content(c: Circular) -> Markup:
    """The circular's text: the renderer's HTML for an alert's circular (autoescaped by its
    templates), the officer's plain text as paragraphs otherwise."""
    html = (c.texts.get("ja") or {}).get("html")
    if c.origin == "emergency" and html:
        # Made by the renderer from the project's (or the town's) autoescaping HTML templates,
        # which escape every field an alert carries (docs/templates.md); never leader input.
        return Markup(html)  # noqa: S704
    return _paragraphs(c.body)


async def _page(request: web.Request, svc: Circulars, d: Delivery, c: Circular, *, status: int = 200, error: str | None = None, values: dict[str, str] | None = None) -> web.Response:
    answers = [a for a in await cs.answers(svc.db, c.id) if a["delivery_id"] == d.id]
    households = None
    if c.kind == flags.KIND and c.alert_id and d.district and c.state == CircularState.RELEASED:
        households = await flags.unreached_in(svc, c.tenant, c.alert_id, d.district)
    last = answers[-1] if answers else None
    done = request.query.get("done")
    tz = zone_of(request, c.tenant)
    response = render(
        request,
        "circular/leader.html",
        status=status,
        c=c,
        d=d,
        token=request.match_info["token"],
        town=svc.tenant_name(c.tenant),
        district=svc.district_name(c.tenant, d.district),
        label=_LABELS.get(c.status, ""),
        content=_content(c),
        files=await cs.attachments(svc.db, c.id),
        last=forms.describe(last["form"], last["data"]) if last else None,
        last_at=local_time(last["at"], tz) if last else None,
        confirmed_at=local_time(d.confirmed_at, tz),
        due=local_time(c.due, tz, "%m月%d日 %H:%M") if c.due else None,
        sent=local_time(d.created, tz, "%m月%d日 %H:%M"),
        done=done if done in ("confirmed", "answered", "told") else None,
        error=error,
        values=values or {},
        nonce=secrets.token_urlsafe(18),
        safety=forms.SAFETY_FIELDS,
        headcount=forms.HEADCOUNT_FIELDS,
        households=households,
    )
    response.headers["Cache-Control"] = "no-store"
    # The link is the credential: it must not leak to another site through a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _same_site(request: web.Request) -> bool:
    # A leader's browser may send "null" (a page opened from a mail app's viewer).
    return from_our_site(request, allow_null=True)


def _back(token: str, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/c/{quote(token)}?done={done}#result")


async def _acknowledged(svc: Circulars, d: Delivery, c: Circular) -> None:
    """A first confirmation calls off the rules' escalations of the district (docs/circulars.md)."""
    if c.alert_id and d.district:
        n = await routing.acknowledge(svc.db, c.tenant, c.alert_id, d.district)
        if n:
            log.info("escalation_acknowledged", circular=c.id, district=d.district, dispatches=n)
    # The alert's circular goes round the district: its households not reached yet count as
    # reached by it (docs/coverage.md). A coverage flag's circular reaches no one by itself.
    if c.alert_id and d.district and c.kind != flags.KIND:
        town = svc.settings.tenants.get(c.tenant)
        districts = {x.id: x.name for x in town.districts} if town is not None else {}
        actor = f"{d.role}:{d.recipient}"
        keys = await marks.mark_unreached(
            svc.db, c.tenant, c.alert_id, d.district, districts, svc.settings.coverage, "circular",
            actor=actor, at=svc.clock(),
        )  # fmt: skip
        if keys:
            await svc.ledger.audit(
                actor=actor, action="coverage_circular_confirmed", tenant=c.tenant, target=c.alert_id,
                detail={"district": d.district, "circular": c.id, "households": len(keys)},
            )  # fmt: skip


@leader_pages.route("GET", "/c/{token}", role=None, kind="public", summary="A leader's circular (signed personal link)")
async def leader_page(request: web.Request) -> web.StreamResponse:
    try:
        svc, d, c = await _open(request)
    except _Refused as r:
        return r.response
    if _is_person(request) and await cs.record_open(svc.db, d.id, svc.clock()):
        log.info("circular_opened", circular=c.id, delivery=d.id)
    return await _page(request, svc, d, c)


@leader_pages.route("GET", "/c/{token}/events", role=None, kind="public", summary="The circular's state as server-sent events (cancelled, updated)")
async def leader_events(request: web.Request) -> web.StreamResponse:
    """The state of the one circular the link opens; nothing else, and nothing about anyone.

    The link is checked as for the page (same limits, same refusals); while the stream lasts, a
    link revoked by an officer ends it (``gone``), and the reconnect is refused like the page.
    """
    try:
        svc, d, c = await _open(request)
    except _Refused as r:
        return r.response

    async def state() -> str | None:
        now_d = await cs.delivery(svc.db, d.id)
        if now_d is None or now_d.link_version != d.link_version:
            return None
        now_c = await cs.circular(svc.db, c.id, c.tenant)
        return None if now_c is None else str(now_c.state)

    return await sse.stream(request, state, tz=zone_of(request, c.tenant))


@leader_pages.route("POST", "/c/{token}/confirm", role=None, kind="public", summary="確認しました (a double tap is one confirmation)")
async def leader_confirm(request: web.Request) -> web.StreamResponse:
    try:
        svc, d, c = await _open(request)
    except _Refused as r:
        return r.response
    if not _same_site(request):
        return _problem(request, 400, "送れませんでした", "このページから、もう一度押してください。")
    if await cs.confirm(svc.db, d.id, svc.clock(), origin=hash_id(client_ip(request))):
        log.info("circular_confirmed", circular=c.id, delivery=d.id)
        await _acknowledged(svc, d, c)
    raise _back(request.match_info["token"], "confirmed")


@leader_pages.route("POST", "/c/{token}/answer", role=None, kind="public", summary="A leader's reply: safety check, head-count, yes/no, free text")
async def leader_answer(request: web.Request) -> web.StreamResponse:
    try:
        svc, d, c = await _open(request)
    except _Refused as r:
        return r.response
    if not _same_site(request):
        return _problem(request, 400, "送れませんでした", "このページから、もう一度送ってください。")
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _problem(request, 400, "送れませんでした", "このページの回答欄から送ってください。")
    posted = await request.post()
    fields = {k: str(v)[:4000] for k, v in posted.items() if isinstance(v, str)}
    try:
        reply = forms.parse_answer(c.form, fields)
    except forms.AnswerError as e:
        return await _page(request, svc, d, c, status=422, error=str(e), values=fields)
    nonce = fields.get("nonce", "")
    if not _NONCE.match(nonce):
        nonce = secrets.token_urlsafe(18)
    at = svc.clock()
    origin = hash_id(client_ip(request))
    if await cs.answer(svc.db, d.id, reply, nonce, at, origin=origin):
        log.info("circular_answered", circular=c.id, delivery=d.id, form=reply.form)
    # Whoever answers has read it: the answer confirms too, so no reminder asks again.
    if await cs.confirm(svc.db, d.id, at, origin=origin):
        await _acknowledged(svc, d, c)
    raise _back(request.match_info["token"], "answered")


@leader_pages.route("POST", "/c/{token}/reached", role=None, kind="public", summary="The leader told a household not reached (coverage)")
async def leader_reached(request: web.Request) -> web.StreamResponse:
    try:
        svc, d, c = await _open(request)
    except _Refused as r:
        return r.response
    if not _same_site(request):
        return _problem(request, 400, "送れませんでした", "このページから、もう一度押してください。")
    posted = await request.post()
    key = str(posted.get("household", ""))[:201]
    if c.kind != flags.KIND or not c.alert_id or not d.district or c.state != CircularState.RELEASED:
        return _problem(request, 404, "この回覧では使えません", "回覧のページに戻ってください。")
    # Only a household of the leader's own district that is still on the list.
    listed = {h.key for h in await flags.unreached_in(svc, c.tenant, c.alert_id, d.district)}
    if key in listed:
        actor = f"{d.role}:{d.recipient}"
        await marks.mark(svc.db, c.tenant, c.alert_id, key, "leader", actor=actor, at=svc.clock())
        await svc.ledger.audit(
            actor=actor, action="coverage_household_told", tenant=c.tenant, target=c.alert_id,
            origin=hash_id(client_ip(request)), detail={"district": d.district, "household": key, "circular": c.id},
        )  # fmt: skip
        log.info("coverage_household_told", circular=c.id, delivery=d.id)
    raise _back(request.match_info["token"], "told")


async def _support_page(request: web.Request, svc: Circulars, d: Delivery, c: Circular) -> web.Response:
    assert d.district is not None
    event = await support.event_in_force(svc.db, c.tenant, svc.settings.coverage, svc.clock())
    rows = await support.checklist(svc.db, c.tenant, d.district, event)
    # Every view of the list is audited: who, which district, under which regime, how many.
    await svc.ledger.audit(
        actor=f"{d.role}:{d.recipient}", action="support_list_viewed", tenant=c.tenant, target=d.district,
        origin=hash_id(client_ip(request)),
        detail={"circular": c.id, "alert": event.alert_id if event else None, "people": len(rows)},
    )  # fmt: skip
    done = request.query.get("done")
    counts = Counter(r.mark for r in rows if r.mark)
    response = render(
        request, "circular/support.html", c=c, d=d, token=request.match_info["token"],
        town=svc.tenant_name(c.tenant), district=svc.district_name(c.tenant, d.district), rows=rows, event=event,
        marks=support.MARKS, counts=counts, done=done == "marked",
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@leader_pages.route("GET", "/c/{token}/support", role=None, kind="public", summary="The leader's checklist of the district's people who need help")
async def leader_support(request: web.Request) -> web.StreamResponse:
    try:
        svc, d, c = await _open(request)
    except _Refused as r:
        return r.response
    if not d.district or d.role not in ("leader", "deputy"):
        return _problem(request, 404, "このページはありません", "回覧のページに戻ってください。")
    return await _support_page(request, svc, d, c)


@leader_pages.route("POST", "/c/{token}/support", role=None, kind="public", summary="The leader marks a person: 伝達済, 避難済, 不在 or 支援要請")
async def leader_support_mark(request: web.Request) -> web.StreamResponse:
    try:
        svc, d, c = await _open(request)
    except _Refused as r:
        return r.response
    if not _same_site(request):
        return _problem(request, 400, "送れませんでした", "このページから、もう一度押してください。")
    if not d.district or d.role not in ("leader", "deputy"):
        return _problem(request, 404, "このページはありません", "回覧のページに戻ってください。")
    event = await support.event_in_force(svc.db, c.tenant, svc.settings.coverage, svc.clock())
    if event is None:
        return _problem(request, 409, "いまは記録できません", "避難の情報が出ていない間は、記録はできません。")
    posted = await request.post()
    person, value, note = str(posted.get("person", ""))[:200], str(posted.get("mark", "")), str(posted.get("note", ""))[:2000]
    if value not in support.MARKS:
        return _problem(request, 400, "送れませんでした", "「伝達済」「避難済」「不在」「支援要請」のどれかを押してください。")
    actor = f"{d.role}:{d.recipient}"
    if await support.mark(svc.db, c.tenant, event, d.district, person, value, note, actor=actor, at=svc.clock()):
        await svc.ledger.audit(
            actor=actor, action="support_person_marked", tenant=c.tenant, target=event.alert_id,
            origin=hash_id(client_ip(request)), detail={"district": d.district, "person": person, "mark": value},
        )  # fmt: skip
        log.info("support_marked", circular=c.id, delivery=d.id, mark=value)
    raise web.HTTPSeeOther(f"/c/{quote(request.match_info['token'])}/support?done=marked")


@leader_pages.route("GET", "/c/{token}/files/{file}", role=None, kind="public", summary="An attachment of the leader's circular")
async def leader_file(request: web.Request) -> web.StreamResponse:
    try:
        svc, d, c = await _open(request)
    except _Refused as r:
        return r.response
    found = await cs.attachment(svc.db, c.id, request.match_info["file"])
    if found is None:
        return _problem(request, 404, "ファイルが見つかりません", "回覧のページに戻って、もう一度開いてください。")
    info, data = found
    await cs.attachment_seen(svc.db, d.id, info.id, svc.clock())
    return attachment_response(info.filename, info.content_type, data)


def attachment_response(filename: str, content_type: str, data: bytes) -> web.Response:
    headers: dict[str, Any] = {
        # inline: the phone shows it; the name is the safe one made at upload (attachments.py).
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "private, no-store",
        "Referrer-Policy": "no-referrer",
    }
    return web.Response(body=data, content_type=content_type, headers=headers)
