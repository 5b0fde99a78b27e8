"""The LINE webhook of each town, and the officers' one-time codes that link a leader's LINE.

``POST /hooks/line/{tenant}`` is the webhook URL a town enters in the LINE Developers console. The
request authenticates itself: ``X-Line-Signature`` over the raw body with the town's channel
secret (``[tenants.<id>.channels.line.credentials] channel_secret``), compared in constant time.
Unsigned, tampered or unconfigured: 401 and nothing recorded. Then, in this order:

1. **Size** before anything is read into memory (413), **JSON** only after the signature (400).
2. **Replay.** Each event's ``webhookEventId`` is claimed once per town in the database, in the
   transaction that keeps the event for processing (broadcaster/store/line_webhook.py). A
   request whose events were all seen before, none marked ``isRedelivery``, is a replay: 401.
   A redelivery of a processed event is answered 200 and changes nothing. Events older than
   `MAX_EVENT_AGE` are refused by their own timestamp, so an id forgotten after the retention
   cannot be replayed either.
3. **200 at once.** Events are processed after the answer, in order per LINE user, so that a slow
   database or LINE's reply API never makes LINE wait (LINE asks for asynchronous processing). An
   event whose processing failed, or whose process died, stays claimed and is taken up again by
   the sweeper after a minute, up to three times; its body is deleted once processed.

4. **Hand off.** Each event goes to the LINE channel's conversation
   (adapters/outbound/line/conversation.py, found by its entry point and made once per process
   by the composition root, broadcaster/app.py; it also checks the signature and reads the body
   for the steps above), which says what it does
   (docs/channels.md, "LINE webhook") and reaches the town's records through
   broadcaster/followers.py. This module keeps only the door and the processing's order,
   retries and sweeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import exc as sa_exc

from broadcaster.followers import Conversation, HookEvent
from broadcaster.line_links import (
    LINK_CODE_MAX_MINUTES,
    LINK_CODE_MINUTES,
    channel_secret,
    issue_link_code,
)
from broadcaster.logging import get_logger
from broadcaster.settings import Settings
from broadcaster.store.ledger import Ledger
from broadcaster.store.line_webhook import SeenEvents
from broadcaster.store.users import Role
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT, principal

log = get_logger(__name__)

line_hooks = Endpoints()

# LINE batches the events of a moment; a few kilobytes each. Bigger is not LINE.
MAX_BODY = 256 * 1024
# LINE does not publish how long it keeps redelivering. Ids are kept well beyond any plausible
# redelivery; an event older than MAX_EVENT_AGE is refused by its own timestamp, so an id
# forgotten after RETENTION can never be presented again.
RETENTION = timedelta(days=7)
MAX_EVENT_AGE = timedelta(days=3)
MAX_FUTURE = timedelta(minutes=5)
SWEEP_EVERY_S = 30.0


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": "refused", "reason": reason}, status=status)


class LineWebhook:
    """Receives and processes one deployment's LINE webhooks (one per web app)."""

    def __init__(self, settings: Settings, ledger: Ledger, conversation: Conversation) -> None:
        self.settings = settings
        self.ledger = ledger
        self.seen = SeenEvents(ledger.db, retention=RETENTION)
        # What the events do is the LINE channel's (adapters/outbound/line/conversation.py); it
        # reaches the town's records through the desk. The process's one, closed by its maker.
        self.conversation = conversation
        self._tasks: set[asyncio.Task[None]] = set()
        self._users: dict[str, tuple[asyncio.Lock, int]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, app: web.Application) -> LineWebhook:
        return app[LINE_WEBHOOK]

    def configured(self) -> list[str]:
        return [t for t in self.settings.tenants if channel_secret(self.settings, t) is not None]

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        if self._sweeper is None and self.configured():
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="line-webhook-sweeper")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._tasks:
            # Events in hand finish (a few database writes and a reply each); the sweeper of the
            # next start takes up whatever a hard stop leaves.
            await asyncio.wait(set(self._tasks), timeout=10)

    async def drained(self) -> None:
        """Wait until every event received so far is processed (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # -- receiving ----------------------------------------------------------------------------------
    async def receive(self, request: web.Request) -> web.StreamResponse:
        tenant = request.match_info["tenant"]
        body = await _read_limited(request, MAX_BODY)
        if body is None:
            log.warning("line_webhook_refused", tenant=tenant, reason="too_large", remote=request.remote)
            return _refuse(413, "too_large")
        secret = channel_secret(self.settings, tenant)
        if secret is None:
            # The same answer as a bad signature: a probe learns nothing about which towns exist.
            log.warning("line_webhook_refused", tenant=tenant, reason="not_configured", remote=request.remote)
            return _refuse(401, "signature")
        unsigned = self.conversation.verify(secret, body, request.headers.get("X-Line-Signature"))
        if unsigned is not None:
            log.warning("line_webhook_refused", tenant=tenant, reason=f"signature_{unsigned}", remote=request.remote)
            return _refuse(401, "signature")
        try:
            parsed = self.conversation.read(body)
        except ValueError as e:
            log.warning("line_webhook_refused", tenant=tenant, reason="bad_body", detail=str(e)[:200])
            return _refuse(400, "bad_body")
        if parsed.skipped:
            log.warning("line_events_unreadable", tenant=tenant, skipped=parsed.skipped)
        if not parsed.events:
            return web.json_response({})  # the console's "Verify" button sends no events
        now = datetime.now(UTC)
        fresh = [e for e in parsed.events if _fresh(e, now)]
        if not fresh:
            log.warning("line_webhook_refused", tenant=tenant, reason="stale", events=len(parsed.events))
            return _refuse(401, "stale")
        try:
            claimed = await self.seen.claim(tenant, [(e.id, e.raw_type, e.to_json()) for e in fresh], now)
        except Exception as e:  # the database is down: LINE redelivers what is not answered 2xx
            log.error("line_webhook_unavailable", tenant=tenant, error=_why(e))
            return web.json_response({"error": "try again"}, status=503, headers={"Retry-After": "5"})
        new = [e for e in fresh if e.id in claimed]
        repeats = [e for e in fresh if e.id not in claimed]
        if not new and not any(e.redelivery for e in repeats):
            log.warning("line_webhook_refused", tenant=tenant, reason="replayed", events=len(repeats))
            return _refuse(401, "replayed")
        if repeats:
            log.info("line_events_repeated", tenant=tenant, events=len(repeats), redelivered=sum(e.redelivery for e in repeats))
        if new:
            self._spawn(tenant, new)
        return web.json_response({})

    def _spawn(self, tenant: str, events: Sequence[HookEvent]) -> None:
        task = asyncio.create_task(self._run(tenant, list(events)), name=f"line-events:{tenant}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, tenant: str, events: list[HookEvent]) -> None:
        for event in events:
            await self._process(tenant, event, reply=True)

    @contextlib.asynccontextmanager
    async def _serial(self, key: str) -> AsyncIterator[None]:
        """One event at a time per LINE user, in arrival order (a tap, then the next tap)."""
        lock, users = self._users.get(key, (asyncio.Lock(), 0))
        self._users[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._users[key]
            if users <= 1:
                del self._users[key]
            else:
                self._users[key] = (lock, users - 1)

    async def _process(self, tenant: str, event: HookEvent, *, reply: bool) -> None:
        async with self._serial(f"{tenant}/{event.user_id or event.id}"):
            try:
                outcome = await self.handle(tenant, event, reply=reply)
            except Exception as e:
                # Left claimed: the sweeper takes it up again after the lease (a database hiccup).
                log.error("line_event_failed", tenant=tenant, event_id=event.id, type=event.raw_type, error=_why(e))
                return
            try:
                await self.seen.finish(tenant, event.id, outcome)
            except Exception as e:
                log.error("line_event_unrecorded", tenant=tenant, event_id=event.id, error=_why(e))
                return
            log.info("line_event_processed", tenant=tenant, event_id=event.id, type=event.raw_type, outcome=outcome)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                await self.sweep()
            except Exception as e:  # the sweeper must outlive a database outage
                log.error("line_sweep_failed", error=_why(e))

    async def sweep(self) -> int:
        """Process events claimed long ago and never finished (a crash, a failure); no replies:
        their reply tokens have expired."""
        pending = await self.seen.take_stale(datetime.now(UTC))
        for p in pending:
            try:
                event = self.conversation.event_of(p.payload)
            except (ValueError, KeyError, TypeError):
                await self.seen.finish(p.tenant, p.event_id, "unreadable", failed=True)
                continue
            await self._process(p.tenant, event, reply=False)
        return len(pending)

    # -- what events do ---------------------------------------------------------------------------
    async def handle(self, tenant: str, event: HookEvent, *, reply: bool) -> str:
        """Act on one event (the conversation's work); what happened, recorded with the event id."""
        return await self.conversation.handle(tenant, event, reply=reply)



def _why(e: BaseException) -> str:
    """An error for the log without the personal data a database error quotes: SQLAlchemy puts
    the statement's parameters (a LINE user id, a district) into its message."""
    if isinstance(e, sa_exc.StatementError):
        return f"{type(e).__name__}: {type(e.orig).__name__}"
    return f"{type(e).__name__}: {str(e)[:200]}"


def _fresh(event: HookEvent, now: datetime) -> bool:
    at = datetime.fromtimestamp(event.timestamp_ms / 1000, UTC)
    return now - MAX_EVENT_AGE <= at <= now + MAX_FUTURE


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None once it passes `limit` (read no further: a huge body costs us nothing)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# The app's one door, made with the app over the process's conversation (web/app.py).
LINE_WEBHOOK: web.AppKey[LineWebhook] = web.AppKey("line_webhook")


def attach(app: web.Application) -> None:
    """Start the sweeper with the app and stop it (and finish events in hand) with it."""

    async def on_startup(app: web.Application) -> None:
        LineWebhook.of(app).start()

    async def on_cleanup(app: web.Application) -> None:
        await LineWebhook.of(app).close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)


@line_hooks.route(
    "POST", "/hooks/line/{tenant}", role=None, kind="hook", tags=("line",),
    summary="A town's LINE webhook: follow, unfollow, messages, postbacks; signed with the channel secret",
)  # fmt: skip
async def line_webhook(request: web.Request) -> web.StreamResponse:
    return await LineWebhook.of(request.app).receive(request)


# -- the console's side: a code for a leader ------------------------------------------------------


class LinkCodeRequest(BaseModel):
    minutes: int = Field(default=LINK_CODE_MINUTES, ge=5, le=LINK_CODE_MAX_MINUTES)


class LinkCodeIssued(BaseModel):
    leader: str
    kind: str
    code: str
    expires: datetime


@line_hooks.route(
    "POST", "/api/v1/tenants/{tenant}/leaders/{leader}/line-link-code", role=Role.OPERATOR, kind="api",
    body=LinkCodeRequest, response=LinkCodeIssued, tags=("audiences",), status=201,
    summary="A one-time code (8 digits) that links a district leader's LINE to their record; earlier codes stop working",
)  # fmt: skip
async def line_link_code(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    tenant = request.match_info["tenant"]
    if tenant not in ctx.settings.tenants:
        return web.json_response({"error": "no such tenant"}, status=404)
    who = principal(request)
    assert who is not None
    raw = await request.read()
    try:
        wanted = LinkCodeRequest.model_validate_json(raw) if raw.strip() else LinkCodeRequest()
    except ValidationError as e:
        # Without the input: bytes that are not UTF-8 cannot go into JSON (found by fuzzing).
        detail = e.errors(include_url=False, include_context=False, include_input=False)
        return web.json_response({"error": "invalid request", "detail": detail}, status=422)
    try:
        issued = await issue_link_code(
            ctx.settings, ctx.ledger, tenant, request.match_info["leader"], by=who.identity, minutes=wanted.minutes, origin=request.remote
        )
    except ValueError as e:
        return web.json_response({"error": str(e)}, status=409)
    if issued is None:
        return web.json_response({"error": "no such leader or deputy"}, status=404)
    answer = LinkCodeIssued(leader=issued.external_id, kind=issued.kind, code=issued.display, expires=issued.expires)
    # The code is a credential: no cache may keep the answer.
    return web.json_response(answer.model_dump(mode="json"), status=201, headers={"Cache-Control": "no-store"})
