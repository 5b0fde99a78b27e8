"""The console's 緊急速報メール page: texts handed to the officers, and their confirmation.

While a town has no link to the carriers' systems, each carrier's channel hands its text over
(adapters/outbound/area_mail). This page shows, per carrier, the exact title and text to paste into
that carrier's console, with a copy button each, and a 送信しました button that records who sent
it and when (broadcaster/store/handoffs.py; the audit log too). Drills never appear here: they are
not sent to carriers at all.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broadcaster.store import handoffs
from broadcaster.store.users import Role
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT, LANG, principal
from broadcaster.web.pages import client_ip, render

handoff_console = Endpoints()

# The page's own words (the console's shared table is broadcaster/web/i18n.py).
WORDS: dict[str, dict[str, str]] = {
    "title": {"ja": "緊急速報メール", "en": "Area mail (緊急速報メール)"},
    "intro": {
        "ja": "携帯各社の配信サイトに、題と本文をそのまま貼り付けて送信し、送信したら「送信しました」を押してください。"
        "文字数と文字は各社の制限に合わせてあります。",
        "en": "Paste the title and text into each carrier's console as they are, send, then press 'Sent'. "
        "They are fitted to each carrier's limits.",
    },
    "waiting": {"ja": "送信待ち", "en": "Waiting to be sent"},
    "none_waiting": {"ja": "送信待ちはありません。", "en": "Nothing is waiting."},
    "done": {"ja": "送信済み（記録）", "en": "Sent (recorded)"},
    "carrier": {"ja": "送信先", "en": "Carrier"},
    "where": {"ja": "使う画面", "en": "Use"},
    "area": {"ja": "配信エリア", "en": "Area"},
    "mail_title": {"ja": "題", "en": "Title"},
    "mail_body": {"ja": "本文", "en": "Text"},
    "chars": {"ja": "文字", "en": "characters"},
    "copy": {"ja": "コピー", "en": "Copy"},
    "confirm": {"ja": "送信しました", "en": "Sent"},
    "confirmed_by": {"ja": "送信確認", "en": "Confirmed"},
    "handed": {"ja": "作成", "en": "Handed over"},
    "notes": {"ja": "調整した点", "en": "Adjusted"},
    "alert": {"ja": "元の配信", "en": "Alert"},
}


def words(lang: str) -> Any:
    return lambda key: WORDS[key].get(lang, WORDS[key]["ja"])


def _tenant(request: web.Request) -> Any:
    tenant = request.app[CONTEXT].settings.tenants.get(request.match_info["tenant"])
    if tenant is None:
        raise web.HTTPNotFound(text="no such municipality")
    return tenant


@handoff_console.route(
    "GET", "/t/{tenant}/area-mail", role=Role.VIEWER, kind="page",
    summary="緊急速報メール: the texts to send by hand in each carrier's console, and what was confirmed",
)  # fmt: skip
async def area_mail_page(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = principal(request)
    assert who is not None
    rows = await handoffs.listed(ctx.ledger.db, tenant.id)
    return render(
        request,
        "console/area_mail.html",
        tenant=tenant,
        waiting=[r for r in rows if not r.confirmed],
        done=[r for r in rows if r.confirmed],
        may_confirm=(who.role_in(tenant.id) or Role.VIEWER) >= Role.OPERATOR,
        w=words(request.get(LANG, "ja")),
    )


@handoff_console.route(
    "POST", "/t/{tenant}/area-mail/{key}/confirm", role=Role.OPERATOR, kind="page",
    summary="Record that an officer sent a handed-over area mail in the carrier's console",
)  # fmt: skip
async def area_mail_confirm(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = principal(request)
    assert who is not None
    key = request.match_info["key"]
    row = await handoffs.confirm(ctx.ledger.db, tenant.id, key, who.identity)
    if row is None:
        raise web.HTTPNotFound(text="no such hand-off")
    await ctx.ledger.audit(
        actor=who.identity,
        action="area_mail_sent_by_hand",
        tenant=tenant.id,
        target=row.alert_id,
        origin=client_ip(request),
        detail={"channel": row.channel, "dispatch": row.key, "confirmed_by": row.confirmed_by},
    )
    raise web.HTTPSeeOther(f"/t/{tenant.id}/area-mail")
