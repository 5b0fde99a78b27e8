"""The town's emergency site, served from the website channel's folder (docs/website.md).

``/site/<tenant>/...`` serves the tenant's current release as static files, read-only: only files
inside the release, never a hidden one (the state), never through ``..`` or a symlink out.
``/alerts/<tenant>/<id>`` is the link every channel's message carries (the renderer's ``url``);
it redirects to the message's page, wherever the site is published.
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

from aiohttp import web

from broadcaster.render.languages import EASY_JA, JA, SUPPORTED, canonical
from broadcaster.site_layout import CURRENT, public_file, site_dir, site_url, slug
from broadcaster.web import sse
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT
from broadcaster.web.pages import zone_of

site = Endpoints()

# Lists change with every publish: a reader must never keep an old copy of a warning page.
_FRESH = "no-cache"
_ASSETS = "public, max-age=3600"
_TYPES = {
    ".html": ("text/html; charset=utf-8", _FRESH),
    ".json": ("application/json; charset=utf-8", _FRESH),
    ".atom": ("application/atom+xml; charset=utf-8", _FRESH),
    ".xml": ("application/cap+xml; charset=utf-8", _FRESH),
    ".css": ("text/css; charset=utf-8", _ASSETS),
    ".js": ("text/javascript; charset=utf-8", _ASSETS),
}
# Public data that the town's CMS (another origin) may fetch from a script to embed.
_EMBEDDABLE = (".json", ".atom", ".xml")


def tenant_site(request: web.Request, tenant: str) -> Path | None:
    settings = request.app[CONTEXT].settings
    if tenant not in settings.tenants:
        return None
    return site_dir(settings.channel(tenant, "website").options, settings.var_dir, tenant)


# The not-found page's words in the languages the site writes its pages in (adapters/outbound/
# website/words.py; the web may not import an adapter): a Vietnamese reader whose link has expired
# reads why in Vietnamese. Columns: title, no such town, no such page, no such alert, back.
_MISSING: dict[str, tuple[str, str, str, str, str]] = {
    JA: ("見つかりません", "この自治体のページはありません。", "お探しのページはありません。掲載期間が過ぎたか、まだ公開されていません。", "この情報のページはまだ公開されていないか、掲載期間が過ぎました。", "緊急情報のトップへ"),
    EASY_JA: ("ページ が ありません", "この まち の ページ は ありません。", "この ページ は ありません。もう おわったか、まだ でて いません。", "この じょうほう の ページ は まだ でて いないか、もう おわりました。", "きんきゅう じょうほう の はじめ の ページ へ"),
    "en": ("Not found", "There are no pages for this town.", "This page does not exist. It may have expired or not be published yet.", "This message's page is not published yet, or has expired.", "To the emergency information"),
    "vi": ("Không tìm thấy", "Không có trang cho địa phương này.", "Trang này không tồn tại. Có thể đã hết hạn hoặc chưa được đăng.", "Trang của thông tin này chưa được đăng hoặc đã hết hạn.", "Đến trang thông tin khẩn cấp"),
    "zh-Hans": ("未找到", "没有该市町村的页面。", "该页面不存在。可能已过期或尚未发布。", "该信息的页面尚未发布或已过期。", "返回紧急信息首页"),
    "ko": ("찾을 수 없습니다", "이 지자체의 페이지가 없습니다.", "페이지가 없습니다. 게시 기간이 지났거나 아직 공개되지 않았습니다.", "이 정보의 페이지는 아직 공개되지 않았거나 게시 기간이 지났습니다.", "긴급 정보 처음으로"),
    "pt": ("Não encontrado", "Não há páginas deste município.", "Esta página não existe. Pode ter expirado ou ainda não ter sido publicada.", "A página desta mensagem ainda não foi publicada ou expirou.", "Ir para as informações de emergência"),
}  # fmt: skip
_TOWN, _PAGE, _ALERT = 1, 2, 3


def _missing_language(request: web.Request) -> str:
    """The reader's language for the not-found page: the folder of the page asked for
    (/site/<town>/vi/...), else ?lang=, else the browser's first we have words for, else Japanese."""
    folder = request.match_info.get("path", "").split("/", 1)[0]
    wanted = [folder, request.query.get("lang", "")]
    wanted += [part.split(";")[0].strip() for part in request.headers.get("Accept-Language", "").split(",")]
    for tag in wanted:
        if tag and tag != "*" and canonical(tag) in _MISSING:
            return canonical(tag)
    return JA


def _not_found(request: web.Request, tenant: str | None, which: int) -> web.Response:
    lang = _missing_language(request)
    said = _MISSING[lang]
    home = f"/site/{html.escape(tenant)}/" + ("" if lang == JA else f"{lang}/") if tenant else ""
    back = f'<p><a href="{home}">{html.escape(said[4])}</a></p>' if tenant else ""
    body = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(said[0])}</title></head><body><main><h1>{html.escape(said[0])}</h1>"
        f"<p>{html.escape(said[which])}</p>{back}</main></body></html>"
    )
    return web.Response(
        status=404, text=body, content_type="text/html", charset="utf-8", headers={"Vary": "Accept-Language"}
    )


@site.route(
    "GET", "/site/{tenant}", role=None, kind="public", summary="The town's emergency site (adds the slash)"
)
async def site_home(request: web.Request) -> web.StreamResponse:
    tenant = request.match_info["tenant"]
    if tenant_site(request, tenant) is None:
        return _not_found(request, None, _TOWN)
    raise web.HTTPMovedPermanently(f"/site/{tenant}/")


# Registered before the files' route, which would otherwise take the name (no release has a file
# called "live": the publisher writes only the files docs/website.md lists).
@site.route(
    "GET",
    "/site/{tenant}/live",
    role=None,
    kind="public",
    summary="The site's release, as server-sent events",
)
async def site_live(request: web.Request) -> web.StreamResponse:
    """One event each time the town's site is published again: the open pages fetch themselves.

    It reads only the tenant's own ``current`` link, so a reader of one town never hears of
    another town's publishes, and carries the release's name and a time, nothing about anyone.
    """
    tenant = request.match_info["tenant"]
    root = tenant_site(request, tenant)
    if root is None:
        return _not_found(request, None, _TOWN)

    async def release() -> str:
        try:
            return os.path.basename(os.readlink(root / CURRENT))
        except OSError:
            return ""  # nothing published yet: the first publish is a change

    def age() -> dict[str, str]:
        # How long ago the current release was made, in seconds (no clock of the reader's is
        # compared with ours): a page that was loaded after it needs nothing; one loaded before
        # (a slow phone network between the page and its stream) fetches itself once.
        try:
            return {"age": f"{max(0.0, time.time() - (root / CURRENT).stat().st_mtime):.1f}"}
        except OSError:
            return {}

    return await sse.stream(request, release, cors=True, tz=zone_of(request, tenant), hello=age)


@site.route(
    "GET", "/site/{tenant}/{path:.*}", role=None, kind="public", summary="A file of the town's emergency site"
)
async def site_file(request: web.Request) -> web.StreamResponse:
    tenant = request.match_info["tenant"]
    root = tenant_site(request, tenant)
    if root is None:
        return _not_found(request, None, _TOWN)
    found = public_file(root, request.match_info["path"])
    if found is None:
        return _not_found(request, tenant, _PAGE)
    content_type, cache = _TYPES.get(found.suffix, ("application/octet-stream", _FRESH))
    headers = {"Content-Type": content_type, "Cache-Control": cache}
    if found.suffix in _EMBEDDABLE or found.name == "banner.html":
        headers["Access-Control-Allow-Origin"] = "*"
    return web.FileResponse(found, headers=headers)


@site.route(
    "GET",
    "/alerts/{tenant}/{alert_id:.+}",
    role=None,
    kind="public",
    summary="An alert's page (the link in every message)",
)
async def alert_page(request: web.Request) -> web.StreamResponse:
    tenant = request.match_info["tenant"]
    root = tenant_site(request, tenant)
    if root is None:
        return _not_found(request, None, _TOWN)
    rel = f"alerts/{slug(request.match_info['alert_id'])}.html"
    if public_file(root, rel) is None:
        return _not_found(request, tenant, _ALERT)
    settings = request.app[CONTEXT].settings
    options = settings.channel(tenant, "website").options
    # Where the town publishes the site (its CMS), if elsewhere; else this server's copy.
    base = site_url(options, "", tenant) if options.get("site_url") else f"/site/{tenant}/"
    # Every channel's message carries this one link, whatever its language: the reader lands on
    # the page in their own language (?lang=, else the browser's) when the site has it.
    lang = reader_language(root, rel, request.query.get("lang"), request.headers.get("Accept-Language"))
    raise web.HTTPSeeOther(base + (f"{lang}/" if lang else "") + rel, headers={"Vary": "Accept-Language"})


def reader_language(root: Path, rel: str, asked: str | None, accept_language: str | None) -> str | None:
    """The folder of the page's language for this reader: the one asked for, else the browser's
    first the site publishes; None for Japanese (the site's root) or when none is published."""
    wanted = [asked] if asked else []
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*":
            wanted.append(tag)
    foreign = False
    for tag in wanted:
        lang = canonical(tag)
        if lang == JA:
            return None
        if lang in SUPPORTED and public_file(root, f"{lang}/{rel}") is not None:
            return lang
        foreign = foreign or lang in SUPPORTED
    # A language the site has no pages in reads easy Japanese, as the renderer's fallback does.
    if foreign and public_file(root, f"{EASY_JA}/{rel}") is not None:
        return EASY_JA
    return None
