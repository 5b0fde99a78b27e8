"""The console's coverage page of one alert: households reached per district, by medium, and the
districts flagged as under-reached (red), as `broadcaster coverage` prints it (docs/coverage.md).

Counts only: the households not reached, with their addresses, go to the district's leader and,
on request, to the headquarters' CSV (`broadcaster coverage --csv --unreached`), never to this page.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from markupsafe import Markup

from broadcaster.coverage import district_map, support
from broadcaster.coverage.counts import compute
from broadcaster.coverage.flags import flagged
from broadcaster.coverage.report import media_of, to_csv
from broadcaster.safety_links import ANSWERS
from broadcaster.store.users import Role
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT, LANG
from broadcaster.web.pages import render

coverage_console = Endpoints()

WORDS: dict[str, dict[str, str]] = {
    "title": {"ja": "到達状況", "en": "Coverage"},
    "intro": {
        "ja": "世帯のだれかに、いずれかの手段で届いた世帯を「到達」と数えます（LINEの返信、アプリを開いた、"
        "メール受付、電話に出た、区長の確認、安否の回答）。",
        "en": "A household counts as reached when any member was reached on any medium (a LINE reply, the app "
        "opened, e-mail accepted, a call answered, the leader's confirmation, a safety answer).",
    },
    "district": {"ja": "地区", "en": "District"},
    "households": {"ja": "世帯", "en": "Households"},
    "reached": {"ja": "到達", "en": "Reached"},
    "share": {"ja": "到達率", "en": "Share"},
    "not_reached": {"ja": "未到達", "en": "Not reached"},
    "flagged": {"ja": "要確認", "en": "FLAGGED"},
    "ok": {"ja": "良好", "en": "OK"},
    "waiting": {"ja": "集計中", "en": "counting"},
    "no_households": {"ja": "登録世帯なし", "en": "no households on the roster"},
    "total": {"ja": "合計", "en": "Total"},
    "none": {"ja": "（地区なし）", "en": "(no district)"},
    "rule": {
        "ja": "受信から{after}分後に到達率{share}未満の地区を赤で示し、区長に未到達世帯の一覧を送ります。",
        "en": "A district under {share} {after} minutes after the alert is shown red and its leader is sent the list of households not reached.",
    },
    "sent": {"ja": "区長へ送信済", "en": "sent to the leader"},
    "csv": {"ja": "CSVで保存（災害対策本部用）", "en": "Download CSV (for the headquarters)"},
    "map": {"ja": "赤: 要確認、黄: 集計中、緑: 良好（地区の形は町が用意した地図）",
            "en": "Red: flagged, amber: counting, green: OK (outlines from the town's map)"},
    "no_alert": {"ja": "この警報はありません。", "en": "No such alert."},
}


def words(lang: str) -> Any:
    return lambda key: WORDS.get(key, {}).get(lang) or WORDS.get(key, {}).get("ja") or key


async def _coverage(request: web.Request) -> Any:
    ctx = request.app[CONTEXT]
    tenant = ctx.settings.tenants.get(request.match_info["tenant"])
    if tenant is None:
        raise web.HTTPNotFound(text="no such municipality")
    districts = {d.id: d.name for d in tenant.districts}
    cov = await compute(
        ctx.ledger.db, tenant.id, request.match_info["alert_id"], districts, ctx.settings.coverage
    )
    if cov is None:
        raise web.HTTPNotFound(text="no such alert")
    return tenant, cov


@coverage_console.route(
    "GET", "/t/{tenant}/alerts/{alert_id}/coverage", role=Role.VIEWER, kind="page",
    summary="Households reached per district for one alert, flagged districts in red",
)  # fmt: skip
async def coverage_page(request: web.Request) -> web.StreamResponse:
    tenant, cov = await _coverage(request)
    ctx = request.app[CONTEXT]
    sent = await flagged(ctx.ledger.db, tenant.id, cov.alert_id)
    outlines = await asyncio.to_thread(district_map.load, ctx.settings.coverage.maps_dir, tenant.id)
    # Built by district_map from numbers and escaped names only.
    svg = Markup(district_map.render(outlines, cov)) if outlines else None  # noqa: S704
    return render(
        request, "console/coverage.html", tenant=tenant, cov=cov, media=media_of(cov), sent=sent, answers=ANSWERS,
        w=words(request.get(LANG, "ja")), district_map=svg, state=district_map.state,
    )  # fmt: skip


@coverage_console.route(
    "GET", "/t/{tenant}/alerts/{alert_id}/coverage.csv", role=Role.VIEWER, kind="page",
    summary="Coverage per district as CSV (counts only)",
)  # fmt: skip
async def coverage_csv(request: web.Request) -> web.StreamResponse:
    _, cov = await _coverage(request)
    return web.Response(
        body=to_csv(cov).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="coverage.csv"'},
    )


@coverage_console.route(
    "GET", "/t/{tenant}/support", role=Role.VIEWER, kind="page",
    summary="The support list's progress per district during the alert in force (counts only)",
)  # fmt: skip
async def support_progress(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = ctx.settings.tenants.get(request.match_info["tenant"])
    if tenant is None:
        raise web.HTTPNotFound(text="no such municipality")
    event = await support.event_in_force(ctx.ledger.db, tenant.id, ctx.settings.coverage)
    rows = await support.progress(ctx.ledger.db, tenant.id, event) if event is not None else {}
    names = {d.id: d.name for d in tenant.districts}
    table = [(names.get(k, k), n, marks) for k, (n, marks) in sorted(rows.items())]
    return render(request, "console/support.html", tenant=tenant, event=event, table=table, marks=support.MARKS)
