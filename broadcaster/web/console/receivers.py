"""The console's Jアラート受信機 page: when each J-Alert receiver was last heard.

A receiver speaks rarely (national tests a few times a year), so a silent one is a fault nobody
notices until the day it matters. The bridges report each receiver's health every minute
(broadcaster/store/receivers.py); this page shows the town's receivers, and those of a bridge
shared by several towns, with SILENT in plain words.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broadcaster.store.receivers import receivers
from broadcaster.store.users import Role
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT, LANG
from broadcaster.web.pages import render

receivers_console = Endpoints()

WORDS: dict[str, dict[str, str]] = {
    "title": {"ja": "Jアラート受信機", "en": "J-Alert receivers"},
    "intro": {
        "ja": "受信機から最後に届いた時刻です（メール・接点出力・ファイル）。全国一斉の試験は年に数回あります。"
        "長く届いていない受信機は故障のおそれがあります。",
        "en": "When each receiver was last heard (mail, contact output, file). National tests come a few "
        "times a year; a receiver silent for long may be broken.",
    },
    "none": {"ja": "受信機の報告はまだありません（ブリッジが動いていないか、未設定です）。", "en": "No receiver has been reported yet."},
    "receiver": {"ja": "受信機", "en": "Receiver"},
    "state": {"ja": "状態", "en": "State"},
    "last_heard": {"ja": "最後に受信", "en": "Last heard"},
    "last_test": {"ja": "最後の試験", "en": "Last test"},
    "quarantined": {"ja": "読めなかったメール", "en": "Mails not understood"},
    "ok": {"ja": "正常", "en": "OK"},
    "silent": {"ja": "長期間無信号", "en": "SILENT"},
    "bridge_silent": {"ja": "ブリッジ応答なし", "en": "BRIDGE SILENT"},
    "never": {"ja": "なし", "en": "never"},
    "mail": {"ja": "メール", "en": "mail"},
    "contact": {"ja": "接点", "en": "contact"},
    "file": {"ja": "ファイル", "en": "file"},
}


def words(lang: str) -> Any:
    return lambda key: WORDS.get(key, {}).get(lang) or WORDS.get(key, {}).get("ja") or key


def _silent_after(settings: Any) -> float:
    hook = settings.hooks.get("jalert")
    return float(hook.bridge_silent_after_s) if hook is not None else 300.0


async def silent_receivers(settings: Any, db: Any, tenant: str) -> int:
    """How many of the town's receivers are silent (for the dashboard's banner)."""
    rows = await receivers(db, tenant=tenant, bridge_silent_after_s=_silent_after(settings))
    return sum(1 for r in rows if r.silent or r.bridge_silent)


@receivers_console.route(
    "GET", "/t/{tenant}/jalert", role=Role.VIEWER, kind="page",
    summary="J-Alert receivers: when each was last heard, and which are silent",
)  # fmt: skip
async def receivers_page(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = ctx.settings.tenants.get(request.match_info["tenant"])
    if tenant is None:
        raise web.HTTPNotFound(text="no such municipality")
    rows = await receivers(ctx.ledger.db, tenant=tenant.id, bridge_silent_after_s=_silent_after(ctx.settings))
    return render(request, "console/receivers.html", tenant=tenant, rows=rows, w=words(request.get(LANG, "ja")))
