"""Signed ingest hooks: the J-Alert bridge and a town's L-Alert relay push messages here.

Both endpoints have kind "hook" and no role: they authenticate each request themselves, by the
signature scheme of broadcaster/signing.py with keys from settings ([hooks.<name>.keys.<id>]).
A request that is unsigned, tampered with, stale or replayed is answered 401 and nothing of it is
recorded; a good one is handed to `submit` and answered 202 only after that returned, i.e. once the
raw message is in the ledger and durable on the bus (docs/jalert.md, docs/lalert.md).

What the message says is not checked here: bad content goes through the pipeline to the
quarantine with its reason, where officers see it, instead of being bounced to a sender on the
other side of a one-way link who cannot do anything about it.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from aiohttp import web

from broadcaster.logging import get_logger
from broadcaster.model import RawEvent
from broadcaster.pipeline.ingest import submit
from broadcaster.settings import HookKey, HookSettings
from broadcaster.signing import SignatureRefused, verify
from broadcaster.store import receivers
from broadcaster.store.nonces import NonceStore
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT, HOOK_NONCES

log = get_logger(__name__)

hooks = Endpoints()

# The content type recorded when a sender names none.
_DEFAULT_TYPES = {"jalert": "text/plain", "lalert": "application/xml"}


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": "refused", "reason": reason}, status=status)


def _nonces(request: web.Request, hook: str, section: HookSettings) -> NonceStore:
    stores = request.app[HOOK_NONCES]
    if hook not in stores:
        # Twice the window: a nonce is forgotten only after its timestamp is refused anyway.
        retention = timedelta(seconds=2 * section.max_skew_s + 60)
        stores[hook] = NonceStore(request.app[CONTEXT].ledger.db, retention=retention)
    return stores[hook]


async def _verified(
    request: web.Request, hook: str, *, tenant: str | None = None
) -> tuple[HookKey, str, str, bytes] | web.Response:
    """(key, key id, nonce, body) of a correctly signed, fresh, first-seen request; else the refusal.

    With `tenant`, the key must belong to that tenant (checked before the nonce is spent).
    """
    ctx = request.app[CONTEXT]
    section = ctx.settings.hooks.get(hook) or HookSettings()
    body = await request.read()
    if len(body) > section.max_body_bytes:
        return _refuse(413, "too_large")

    def secret_of(key_id: str) -> bytes | None:
        key = section.keys.get(key_id)
        return key.secret.get_secret_value().encode("utf-8") if key is not None else None

    try:
        ok = verify(
            request.headers,
            request.method,
            request.path,
            body,
            secret_of=secret_of,
            now=time.time(),
            max_skew_s=section.max_skew_s,
        )
    except SignatureRefused as e:
        log.warning("hook_refused", hook=hook, reason=e.reason, remote=request.remote, path=request.path)
        return _refuse(401, e.reason)
    key = section.keys[ok.key_id]
    if tenant is not None and key.tenant != tenant:
        # The path is signed, so this is a sender configured for another town, not a forgery;
        # the answer is the same whether that tenant exists or not.
        log.warning("hook_refused", hook=hook, reason="other_tenant", key=ok.key_id, tenant=tenant)
        return _refuse(403, "not_allowed")
    claimed = await _nonces(request, hook, section).claim(hook, ok.key_id, ok.nonce, datetime.now(UTC))
    if not claimed:
        log.warning("hook_refused", hook=hook, reason="replayed", key=ok.key_id, remote=request.remote)
        return _refuse(401, "replayed")
    return key, ok.key_id, ok.nonce, body


async def _accept(request: web.Request, hook: str, raw: RawEvent) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    try:
        await submit(ctx.bus, raw, ctx.ledger)
    except Exception as e:  # the ledger or bus is down: the sender keeps the message and retries
        log.error("hook_submit_failed", hook=hook, raw=raw.id, error=str(e)[:300])
        return web.json_response({"error": "not accepted; try again"}, status=503, headers={"Retry-After": "5"})
    log.info("hook_accepted", hook=hook, raw=raw.id, by=raw.submitted_by, tenant=raw.tenant, size=len(raw.body))
    return web.json_response({"raw_event": raw.id}, status=202)


def _content_type(request: web.Request, hook: str) -> str:
    given = request.headers.get("Content-Type", "").strip()
    return given[:200] if given else _DEFAULT_TYPES[hook]


@hooks.route(
    "POST", "/ingest/jalert", role=None, kind="hook", tags=("ingest",),
    summary="J-Alert bridge: one message, signed (timestamp, nonce, body); 202 once durable",
)  # fmt: skip
async def ingest_jalert(request: web.Request) -> web.StreamResponse:
    got = await _verified(request, "jalert")
    if isinstance(got, web.Response):
        return got
    key, key_id, nonce, body = got
    raw = RawEvent(
        source="jalert",
        content_type=_content_type(request, "jalert"),
        body=body,
        # A town's own receiver speaks for the town; a shared one reaches tenants by area.
        tenant=key.tenant,
        submitted_by=f"jalert-bridge:{key_id}",
        source_ref=nonce,
    )
    return await _accept(request, "jalert", raw)


@hooks.route(
    "POST", "/ingest/jalert/health", role=None, kind="hook", tags=("ingest",),
    summary="J-Alert bridge: its receivers' health (when each was last heard), signed; 204 once stored",
    status=204,
)  # fmt: skip
async def ingest_jalert_health(request: web.Request) -> web.StreamResponse:
    got = await _verified(request, "jalert")
    if isinstance(got, web.Response):
        return got
    key, key_id, _, body = got
    try:
        report = json.loads(body)
    except ValueError:
        return _refuse(400, "malformed_json")
    if not isinstance(report, dict) or report.get("format") != "jalert-health/1":
        return _refuse(400, "not_a_health_report")
    try:
        count = await receivers.record_report(request.app[CONTEXT].ledger.db, key_id, key.tenant, report)
    except Exception as e:  # the ledger is down: the next report (a minute later) replaces it
        log.error("jalert_health_not_stored", key=key_id, error=str(e)[:300])
        return web.json_response({"error": "not stored; try again"}, status=503)
    log.info("jalert_health_reported", key=key_id, receivers=count)
    return web.Response(status=204)


@hooks.route(
    "POST", "/ingest/lalert/{tenant}", role=None, kind="hook", tags=("ingest",),
    summary="L-Alert push for one tenant: an EDXL-DE document or its SOAP envelope, signed; 202 once durable",
)  # fmt: skip
async def ingest_lalert(request: web.Request) -> web.StreamResponse:
    tenant = request.match_info["tenant"]
    got = await _verified(request, "lalert", tenant=tenant)
    if isinstance(got, web.Response):
        return got
    _, key_id, nonce, body = got
    raw = RawEvent(
        source="lalert",
        content_type=_content_type(request, "lalert"),
        body=body,
        tenant=tenant,
        submitted_by=f"lalert-push:{key_id}",
        source_ref=nonce,
    )
    return await _accept(request, "lalert", raw)
