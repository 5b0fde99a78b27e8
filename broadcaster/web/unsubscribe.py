"""Stopping the town's e-mail from the link in every message (RFC 2369, RFC 8058 one-click).

A message's List-Unsubscribe names ``/unsubscribe/<town>/email/<token>``; the token is the
address sealed under the deployment's key (broadcaster/unsubscribe.py), so the link works without
a login and cannot be made for another address. RFC 8058's rules:

* a POST with ``List-Unsubscribe=One-Click`` (what Gmail and Yahoo send when the reader presses
  their "unsubscribe" button) unsubscribes at once, without cookies or any other step;
* a GET must not unsubscribe (mail scanners and link previews fetch links): it shows a page with
  one button that makes the same POST.

Unsubscribing removes that e-mail address from the person's endpoints (the person's other
channels and choices stay). A token for an address no longer registered still answers that the
mail is stopped: it is, and the page must not tell a stranger whether an address is known.
"""

from __future__ import annotations

import html

from aiohttp import web

from broadcaster import unsubscribe as tokens
from broadcaster.logging import get_logger, hash_id
from broadcaster.store.audiences import Audiences
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT

log = get_logger(__name__)
unsubscribe_pages = Endpoints()
CHANNEL = "email"
ONE_CLICK = "List-Unsubscribe=One-Click"


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return web.Response(text=text, status=status, content_type="text/html")


def _address(request: web.Request) -> tuple[str, str] | None:
    tenant = request.match_info["tenant"]
    if tenant not in request.app[CONTEXT].settings.tenants:
        return None
    key = tokens.key_of(request.app[CONTEXT].settings)
    try:
        return tenant, tokens.address_of(key, tenant, request.match_info["token"])
    except tokens.BadToken:
        return None


_NOT_OURS = "<p>このリンクは使えません。メールに書かれたリンクをそのままお使いください。</p>"


@unsubscribe_pages.route(
    "GET",
    "/unsubscribe/{tenant}/email",
    role=None,
    kind="public",
    summary="How to stop the town's e-mail",
    produces="text/html",
)
async def how_to(request: web.Request) -> web.StreamResponse:
    if request.match_info["tenant"] not in request.app[CONTEXT].settings.tenants:
        raise web.HTTPNotFound(text="no such town")
    return _page(
        "メール配信の停止",
        "<p>届いたメールの末尾またはメールソフトの「配信停止」からお手続きください。"
        "リンクはお一人ずつ異なります。</p>",
    )


@unsubscribe_pages.route(
    "GET",
    "/unsubscribe/{tenant}/email/{token}",
    role=None,
    kind="public",
    summary="Confirm stopping the town's e-mail (a GET never unsubscribes)",
    produces="text/html",
)
async def confirm(request: web.Request) -> web.StreamResponse:
    if _address(request) is None:
        return _page("メール配信の停止", _NOT_OURS, status=404)
    return _page(
        "メール配信の停止",
        f'<form method="post" action="{html.escape(request.path)}">'
        f'<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        "<p>このアドレスへの防災メールの配信を停止します。</p>"
        '<button type="submit">配信を停止する</button></form>',
    )


@unsubscribe_pages.route(
    "POST",
    "/unsubscribe/{tenant}/email/{token}",
    role=None,
    kind="public",
    summary="Stop the town's e-mail to this address (RFC 8058 one-click)",
    produces="text/html",
    errors=(400,),
)
async def one_click(request: web.Request) -> web.StreamResponse:
    found = _address(request)
    if found is None:
        return _page("メール配信の停止", _NOT_OURS, status=404)
    form = await request.post()
    if form.get("List-Unsubscribe") != "One-Click":
        return _page("メール配信の停止", f"<p>{ONE_CLICK} が必要です。</p>", status=400)
    tenant, address = found
    removed = await Audiences(request.app[CONTEXT].ledger.db).remove_endpoint(tenant, CHANNEL, address)
    log.info("email_unsubscribed", tenant=tenant, address=hash_id(address), removed=removed)
    return _page("メール配信を停止しました", "<p>このアドレスへの防災メールは今後届きません。</p>")
