"""The console's 媒体の整合 page: media that say something else than the ledger, and the state of
each medium per event.

The consistency guard (broadcaster/pipeline/guard.py, docs/consistency.md) reads every medium back;
this page shows its open alarms with the facts side by side (what the ledger says, what the
medium shows, which facts differ, where it was read) and a button that sends that medium the
message again, and for each event the state per medium as last read.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broadcaster.consistency.facts import FACTS
from broadcaster.model import now
from broadcaster.pipeline.republish import RepublishError, republish
from broadcaster.store import consistency
from broadcaster.store.users import Role
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT, LANG, principal
from broadcaster.web.pages import client_ip, render

consistency_console = Endpoints()

WORDS: dict[str, dict[str, str]] = {
    "title": {"ja": "媒体の整合", "en": "Media consistency"},
    "intro": {
        "ja": "各媒体が実際に表示している内容を読み戻し、台帳の最新の発信と比べています。"
        "食い違う媒体、または他の媒体より遅れている媒体を示します。",
        "en": "Each medium is read back and compared with the newest message in the ledger. "
        "Media that say something else, or trail the others, are listed here.",
    },
    "none": {"ja": "食い違いはありません。", "en": "Every medium agrees."},
    "events": {"ja": "事案ごとの媒体の状態", "en": "State per medium, by event"},
    "event": {"ja": "事案", "en": "Event"},
    "surface": {"ja": "媒体", "en": "Medium"},
    "problem": {"ja": "状態", "en": "State"},
    "stale": {"ja": "古いまま", "en": "STALE"},
    "differs": {"ja": "内容が違う", "en": "DIFFERS"},
    "waiting": {"ja": "反映待ち", "en": "waiting"},
    "ok": {"ja": "一致", "en": "agrees"},
    "fact": {"ja": "項目", "en": "Fact"},
    "expected": {"ja": "台帳（あるべき内容）", "en": "Ledger (should show)"},
    "carried": {"ja": "媒体の表示", "en": "Medium shows"},
    "message": {"ja": "発信", "en": "Message"},
    "nothing": {"ja": "（なし）", "en": "(nothing)"},
    "raised": {"ja": "検知", "en": "Raised"},
    "where": {"ja": "読み取り元", "en": "Read from"},
    "republish": {"ja": "この媒体に再配信", "en": "Republish to this medium"},
    "republished": {"ja": "再配信済み", "en": "Republished"},
    "source_medium": {"ja": "媒体から読み戻し", "en": "read from the medium"},
    "source_provider": {"ja": "事業者の受付記録", "en": "provider's accepted record"},
    "wrong": {"ja": "食い違い", "en": "wrong"},
    "listed": {"ja": "一覧に掲載", "en": "listed"},
}


def words(lang: str) -> Any:
    return lambda key: WORDS.get(key, {}).get(lang) or WORDS.get(key, {}).get("ja") or key


def _tenant(request: web.Request) -> Any:
    tenant = request.app[CONTEXT].settings.tenants.get(request.match_info["tenant"])
    if tenant is None:
        raise web.HTTPNotFound(text="no such municipality")
    return tenant


async def open_alarms(db: Any, tenant: str) -> int:
    """How many surfaces of the town's media disagree now (the dashboard's banner)."""
    return len(await consistency.alarms(db, tenant))


@consistency_console.route(
    "GET", "/t/{tenant}/consistency", role=Role.VIEWER, kind="page",
    summary="Media that disagree with the ledger, facts side by side, and the state per medium of each event",
)  # fmt: skip
async def consistency_page(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = principal(request)
    assert who is not None
    event_key = request.query.get("event")
    alarms = await consistency.alarms(ctx.ledger.db, tenant.id)
    events = await consistency.checked_events(ctx.ledger.db, tenant.id)
    shown = event_key or (alarms[0].event_key if alarms else (events[0][0] if events else None))
    states = await consistency.states_of(ctx.ledger.db, tenant.id, shown) if shown else []
    return render(
        request,
        "console/consistency.html",
        tenant=tenant,
        alarms=alarms,
        events=events[:50],
        shown=shown,
        states=states,
        facts=FACTS,
        may_republish=(who.role_in(tenant.id) or Role.VIEWER) >= Role.OPERATOR,
        w=words(request.get(LANG, "ja")),
    )


@consistency_console.route(
    "POST", "/t/{tenant}/consistency/{alarm}/republish", role=Role.OPERATOR, kind="page",
    summary="Send the message a medium does not show to that medium again",
)  # fmt: skip
async def consistency_republish(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = _tenant(request)
    who = principal(request)
    assert who is not None
    try:
        alarm_id = int(request.match_info["alarm"])
    except ValueError as e:
        raise web.HTTPNotFound(text="no such alarm") from e
    alarm = await consistency.alarm(ctx.ledger.db, tenant.id, alarm_id)
    if alarm is None or alarm.expected_id is None:
        raise web.HTTPNotFound(text="no such alarm")
    try:
        await republish(
            ctx.bus,
            ctx.ledger,
            tenant.id,
            alarm.expected_id,
            actor=who.identity,
            channel=alarm.channel,
            origin=client_ip(request),
            accepted_too=True,
        )
    except RepublishError as e:
        raise web.HTTPNotFound(text=str(e)) from e
    await consistency.mark_republished(ctx.ledger.db, tenant.id, alarm.id, who.identity, now())
    raise web.HTTPSeeOther(f"/t/{tenant.id}/consistency?event={alarm.event_key}")
