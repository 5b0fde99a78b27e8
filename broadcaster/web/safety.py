"""The resident's safety answer page (安否確認): /s/<town>/<token>, from the link in the alert's
e-mail (and LINE's quick reply answers the same on LINE itself, broadcaster/web/line_hook.py).

The token names one address of one town and one alert (broadcaster/safety_links.py); no login.
A GET shows three large buttons and a note field and never records anything (mail scanners and
link previews fetch links); a POST from this page records the answer for the person's household
(broadcaster/coverage/safety.py). A link of an alert older than `coverage.safety_days`, of an
alert that asks no safety answer, or of a person no longer registered opens nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from broadcaster import safety_links, unsubscribe
from broadcaster.coverage import safety
from broadcaster.logging import get_logger, hash_id
from broadcaster.model import now
from broadcaster.preference import endpoint_channel
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT
from broadcaster.web.pages import client_ip, render

log = get_logger(__name__)
safety_pages = Endpoints()


def _problem(request: web.Request, status: int, heading: str, message: str) -> web.Response:
    response = render(request, "circular/problem.html", status=status, heading=heading, message=message)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _open(
    request: web.Request,
) -> tuple[Any, Any, tuple[str, str | None], safety_links.Named] | web.Response:
    ctx = request.app[CONTEXT]
    tenant = ctx.settings.tenants.get(request.match_info["tenant"])
    unknown = _problem(
        request, 404, "このリンクは開けません", "届いたメッセージのリンクを、そのまま開いてください。"
    )
    if tenant is None:
        return unknown
    try:
        named = safety_links.named(unsubscribe.key_of(ctx.settings), tenant.id, request.match_info["token"])
    except safety_links.BadToken:
        log.warning("safety_link_refused", client=hash_id(client_ip(request)))
        return unknown
    alert = await ctx.ledger.alert(tenant.id, named.alert_id)
    if alert is None or not safety_links.asks(alert):
        return unknown
    if now() - alert.sent > timedelta(days=ctx.settings.coverage.safety_days):
        return _problem(
            request, 410, "この安否確認は終わりました", "役場からの新しいお知らせをご覧ください。"
        )
    person = await safety.person_of(ctx.ledger.db, tenant.id, endpoint_channel(named.channel), named.address)
    if person is None:
        return unknown
    return tenant, alert, person, named


def _same_site(request: web.Request) -> bool:
    own = urlsplit(request.app[CONTEXT].settings.web.public_url)
    for header in ("Origin", "Referer"):
        value = request.headers.get(header)
        if value and value != "null":
            seen = urlsplit(value)
            if (seen.scheme, seen.netloc) not in (
                (own.scheme, own.netloc),
                ("http", request.host),
                ("https", request.host),
            ):
                return False
    return True


@safety_pages.route(
    "GET",
    "/s/{tenant}/{token}",
    role=None,
    kind="public",
    summary="A resident's safety answer page (signed link)",
)
async def safety_page(request: web.Request) -> web.StreamResponse:
    opened = await _open(request)
    if isinstance(opened, web.Response):
        return opened
    tenant, alert, (person, household), named = opened
    ctx = request.app[CONTEXT]
    standing = await safety.standing(ctx.ledger.db, tenant.id, named.alert_id, household or f"~{person}")
    response = render(
        request, "safety.html", town=tenant.name, headline=alert.primary.headline if alert.info else None,
        answers=safety.ANSWERS, standing=standing, done=request.query.get("done") == "1",
        token=request.match_info["token"], tenant_id=tenant.id,
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@safety_pages.route(
    "POST",
    "/s/{tenant}/{token}",
    role=None,
    kind="public",
    summary="A resident's safety answer: 無事, 支援が必要 or 避難済み, and a note",
)
async def safety_answer(request: web.Request) -> web.StreamResponse:
    opened = await _open(request)
    if isinstance(opened, web.Response):
        return opened
    tenant, _, (person, household), named = opened
    if not _same_site(request):
        return _problem(request, 400, "送れませんでした", "このページから、もう一度押してください。")
    posted = await request.post()
    answer = str(posted.get("answer", ""))
    if answer not in safety.ANSWERS:
        return _problem(
            request, 400, "送れませんでした", "「無事」「支援が必要」「避難済み」のどれかを押してください。"
        )
    note = str(posted.get("note", ""))[:4000]
    ctx = request.app[CONTEXT]
    got = await safety.record(
        ctx.ledger.db, tenant.id, named.alert_id, person, household, answer, note, via=named.channel
    )
    log.info("safety_answered", tenant=tenant.id, via=named.channel, outcome=got.outcome, answer=answer)
    raise web.HTTPSeeOther(f"{safety_links.PATH}/{tenant.id}/{request.match_info['token']}?done=1")
