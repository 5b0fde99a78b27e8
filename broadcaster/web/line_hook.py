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

What the events do is in docs/channels.md ("LINE webhook"): follow registers a resident with the
address ``line:<userId>`` and greets them with quick replies; postbacks choose districts, language
and topics; unfollow removes the address, and a resident with no other address leaves entirely
(their personal data is deleted, 個人情報保護法); a typed eight-digit code links a district
leader's LINE account to their roster record. Every typed text is hostile: it is normalised, cut,
compared, and never echoed, logged or stored. LINE user ids reach logs only as `hash_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import exc as sa_exc

from adapters.outbound.line.api import LineClient
from adapters.outbound.line.dialog import Dialog, DistrictChoice, Prefs, decode, step
from adapters.outbound.line.webhook import BodyError, Event, SignatureError, parse, verify_signature
from broadcaster import safety_links
from broadcaster.coverage import safety as coverage_safety
from broadcaster.errors import BroadcasterError
from broadcaster.line_links import (
    CHANNEL,
    LINK_CODE_MAX_MINUTES,
    LINK_CODE_MINUTES,
    channel_secret,
    issue_link_code,
)
from broadcaster.logging import get_logger, hash_id
from broadcaster.render.languages import JA, SUPPORTED, canonical
from broadcaster.settings import Settings
from broadcaster.store import tables as t
from broadcaster.store.audiences import Audiences, Person
from broadcaster.store.ledger import Ledger
from broadcaster.store.line_webhook import LinkCodes, SeenEvents, normalize_code
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
SAFETY_THANKS = "「{answer}」を受け付けました。ありがとうございます。変わったときは、もう一度ボタンを押してください。"
SAFETY_CLOSED = "この安否確認はもう終わっています。役場からの新しいお知らせをご覧ください。"


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": "refused", "reason": reason}, status=status)


class _Book:
    """The phrase tables as the dialogue asks for them."""

    def __init__(self, book: Any) -> None:
        self.book = book

    def text(self, key: str, lang: str, **fields: Any) -> str:
        return str(self.book.text(key, lang, **fields))

    def has(self, key: str) -> bool:
        return key in self.book.tables.get(JA, {})


def _load_phrases(settings: Settings) -> _Book:
    from broadcaster.render.lookup import TemplateSet
    from broadcaster.render.phrases import PhraseBook
    from broadcaster.render.renderer import PROJECT_TEMPLATES

    roots: list[Path] = list(dict.fromkeys([settings.templates_dir, PROJECT_TEMPLATES]))
    return _Book(PhraseBook.load(TemplateSet(roots, check_interval_s=0).phrase_dirs()))


@dataclass
class _Town:
    dialog: Dialog
    client: LineClient | None  # None without an access token: registrations work, replies do not


class LineWebhook:
    """Receives and processes one deployment's LINE webhooks (one per web process)."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.audiences = Audiences(ledger.db)
        self.seen = SeenEvents(ledger.db, retention=RETENTION)
        self.codes = LinkCodes(ledger.db)
        self._towns: dict[str, _Town] = {}
        self._phrases: _Book | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._users: dict[str, tuple[asyncio.Lock, int]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, app: web.Application) -> LineWebhook:
        ctx = app[CONTEXT]
        service = ctx.extras.get("line_webhook")
        if not isinstance(service, LineWebhook):
            service = ctx.extras["line_webhook"] = cls(ctx.settings, ctx.ledger)
        return service

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
        for town in self._towns.values():
            if town.client is not None:
                await town.client.close()
        self._towns.clear()

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
        try:
            verify_signature(secret, body, request.headers.get("X-Line-Signature"))
        except SignatureError as e:
            log.warning("line_webhook_refused", tenant=tenant, reason=f"signature_{e.reason}", remote=request.remote)
            return _refuse(401, "signature")
        try:
            parsed = parse(body)
        except BodyError as e:
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

    def _spawn(self, tenant: str, events: Sequence[Event]) -> None:
        task = asyncio.create_task(self._run(tenant, list(events)), name=f"line-events:{tenant}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, tenant: str, events: list[Event]) -> None:
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

    async def _process(self, tenant: str, event: Event, *, reply: bool) -> None:
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
                event = Event.from_json(p.payload)
            except (ValueError, KeyError, TypeError):
                await self.seen.finish(p.tenant, p.event_id, "unreadable", failed=True)
                continue
            await self._process(p.tenant, event, reply=False)
        return len(pending)

    # -- what events do ---------------------------------------------------------------------------
    async def _town(self, tenant: str) -> _Town:
        town = self._towns.get(tenant)
        if town is None:
            if self._phrases is None:
                self._phrases = await asyncio.to_thread(_load_phrases, self.settings)
            ts = self.settings.tenants[tenant]
            dialog = Dialog(
                self._phrases,
                tenant=tenant,
                town=ts.name,
                town_en=ts.name_en,
                districts=[DistrictChoice(d.id, d.name, d.name_en) for d in ts.districts],
                site_url=f"{self.settings.web.public_url.rstrip('/')}/site/{tenant}/",
            )
            cfg = self.settings.channel(tenant, CHANNEL)
            token = cfg.credentials.get("token")
            client = None
            if token is not None and token.get_secret_value():
                base = str(cfg.options.get("base_url") or "https://api.line.me")
                client = LineClient(token=token.get_secret_value(), base_url=base, timeout=10.0)
            town = self._towns[tenant] = _Town(dialog, client)
        return town

    async def handle(self, tenant: str, event: Event, *, reply: bool) -> str:
        """Act on one event; returns what happened (recorded with the event id, no personal data)."""
        uid = event.user_id
        if uid is None:
            return f"ignored:{event.raw_type}"[:64]  # groups, rooms, malformed sources
        if event.type == "unfollow":
            return await self._unfollow(tenant, uid)
        if event.type == "other":
            return f"ignored:{event.raw_type}"[:64]
        town = await self._town(tenant)
        person, created = await self._person(tenant, uid, town)
        prefs = Prefs(person.districts, person.language, person.topics)
        if event.type == "follow":
            await self._reply(town, event, town.dialog.welcome(prefs), reply=reply)
            return "registered" if created else "followed_again"
        if event.type == "postback" and (tapped := safety_links.parse_postback(event.postback)) is not None:
            return await self._safety(tenant, town, event, person, *tapped, reply=reply)
        if event.type == "postback":
            st = step(prefs, decode(event.postback), town.dialog.districts, districts_fixed=person.kind != "resident")
            if st.changed:
                await self.audiences.update_person(
                    tenant, person.external_id, districts=st.prefs.districts, language=st.prefs.language, topics=st.prefs.topics
                )
            await self._reply(town, event, town.dialog.view(st), reply=reply)
            return f"postback:{st.view}" + (":changed" if st.changed else "")
        typed = safety_links.parse_typed(event.text) if event.type == "message" else None
        if typed is not None and (check := await self._latest_check(tenant)) is not None:
            return await self._answer(tenant, town, event, person, check, *typed, reply=reply)
        code = normalize_code(event.text) if event.text else None
        if code is not None:
            return await self._link(tenant, town, event, uid, code, prefs, reply=reply)
        # Anything else typed (or a sticker, a photo): the account cannot converse. Say so, show
        # the settings, and neither echo nor keep what was sent.
        await self._reply(town, event, town.dialog.help(prefs), reply=reply)
        return f"message:{event.message_type or 'unknown'}"[:64]

    async def _safety(
        self, tenant: str, town: _Town, event: Event, person: Person, ref: str, answer: str, *, reply: bool
    ) -> str:
        """A tap on a safety check's quick reply: the answer for the person's household, on an
        alert of the town that asks for one and is recent (docs/coverage.md)."""
        recent = await self._recent(tenant)
        alert_id = next((i for i in recent if safety_links.alert_ref(i) == ref), None)
        alert = await self.ledger.alert(tenant, alert_id) if alert_id is not None else None
        if alert is None or not safety_links.asks(alert):
            await self._reply(town, event, [{"type": "text", "text": SAFETY_CLOSED}], reply=reply)
            return "safety:closed"
        return await self._answer(tenant, town, event, person, alert, answer, None, reply=reply)

    async def _recent(self, tenant: str) -> list[str]:
        """The town's alerts sent within `coverage.safety_days`, newest first."""
        a = t.alerts
        since = datetime.now(UTC) - timedelta(days=self.settings.coverage.safety_days)
        query = sa.select(a.c.identifier).where(a.c.tenant == tenant, a.c.sent >= since).order_by(a.c.sent.desc())
        return await self.ledger.db.read(lambda c: list(c.execute(query).scalars()))

    async def _latest_check(self, tenant: str) -> Any:
        """The town's newest recent alert that asks for a safety answer: what a typed 無事 answers."""
        for alert_id in await self._recent(tenant):
            alert = await self.ledger.alert(tenant, alert_id)
            if alert is not None and safety_links.asks(alert):
                return alert
        return None

    async def _answer(
        self, tenant: str, town: _Town, event: Event, person: Person, alert: Any, answer: str, note: str | None,
        *, reply: bool,
    ) -> str:  # fmt: skip
        got = await coverage_safety.record(
            self.ledger.db, tenant, alert.identifier, person.external_id, person.household, answer, note, via="line"
        )
        text = SAFETY_THANKS.format(answer=safety_links.ANSWERS[answer])
        await self._reply(town, event, [{"type": "text", "text": text}], reply=reply)
        return f"safety:{got.outcome}"

    async def _person(self, tenant: str, uid: str, town: _Town) -> tuple[Person, bool]:
        """The person with this LINE address; registered now if unknown (a follow, or someone
        who followed before the webhook existed and now taps the menu)."""
        people = await self.audiences.by_endpoint(tenant, CHANNEL, uid)
        if people:
            # A leader linked to LINE is their roster record, not the resident sign-up.
            return next((p for p in people if p.kind != "resident"), people[0]), False
        language = JA
        if town.client is not None:
            try:
                asked = await town.client.language(uid)
            except BroadcasterError as e:
                log.warning("line_profile_failed", tenant=tenant, user=hash_id(uid), error=str(e)[:200])
                asked = None
            if asked and canonical(asked) in SUPPORTED:
                language = canonical(asked)
        sid = await self.audiences.add(tenant, kind="resident", language=language, endpoints={CHANNEL: uid})
        log.info("line_follower_registered", tenant=tenant, user=hash_id(uid), language=language)
        return Person(external_id=f"auto-{sid}", language=language, endpoints=((CHANNEL, uid),)), True

    async def _drop(self, tenant: str, people: Sequence[Person], uid: str) -> tuple[int, int]:
        """Take this LINE address from `people`: a resident with no other address leaves
        entirely (personal data deleted); anyone else keeps their record. (left, kept)"""
        left = kept = 0
        for p in people:
            if p.kind == "resident" and set(p.endpoints) <= {(CHANNEL, uid)}:
                await self.audiences.leave(tenant, p.external_id)
                left += 1
            else:
                kept += 1
        if kept:
            await self.audiences.remove_endpoint(tenant, CHANNEL, uid)
        return left, kept

    async def _unfollow(self, tenant: str, uid: str) -> str:
        people = await self.audiences.by_endpoint(tenant, CHANNEL, uid)
        if not people:
            return "unfollow:unknown"
        left, kept = await self._drop(tenant, people, uid)
        for p in people:
            if p.kind != "resident":
                # The town should know that a leader can no longer be reached on LINE.
                await self.ledger.audit(
                    actor=f"line:{hash_id(uid)}", action="line_unfollow", tenant=tenant, target=p.external_id, detail={"kind": p.kind}
                )
        log.info("line_follower_gone", tenant=tenant, user=hash_id(uid), left=left, kept=kept)
        return "unfollow:left" if left and not kept else "unfollow:address_removed"

    async def _link(
        self, tenant: str, town: _Town, event: Event, uid: str, code: str, prefs: Prefs, *, reply: bool
    ) -> str:
        secret = channel_secret(self.settings, tenant)
        assert secret is not None  # the request was verified with it
        who = hash_id(uid)
        result = await self.codes.redeem(tenant, code, key=secret.encode(), who=who, at=datetime.now(UTC))
        if result.outcome == "limited":
            log.warning("line_link_limited", tenant=tenant, user=who)
            await self._reply(town, event, town.dialog.notice(prefs, "line.link_wait"), reply=reply)
            return "link:limited"
        if result.outcome != "ok" or result.external_id is None:
            log.warning("line_link_refused", tenant=tenant, user=who, reason=result.outcome)
            await self.ledger.audit(
                actor=f"line:{who}", action="line_link_refused", tenant=tenant, detail={"reason": result.outcome}
            )
            await self._reply(town, event, town.dialog.notice(prefs, "line.link_refused"), reply=reply)
            return f"link:{result.outcome}"
        leader = await self.audiences.update_person(tenant, result.external_id, add_endpoint=(CHANNEL, uid))
        if leader is None:  # left between the code check and now
            await self._reply(town, event, town.dialog.notice(prefs, "line.link_refused"), reply=reply)
            return "link:gone"
        # The resident sign-up this LINE user got when following is the same person: from now
        # on they are reached as the leader (who is also a resident), once, not twice.
        others = [p for p in await self.audiences.by_endpoint(tenant, CHANNEL, uid) if p.external_id != leader.external_id]
        for p in others:
            if p.kind == "resident" and set(p.endpoints) <= {(CHANNEL, uid)}:
                await self.audiences.leave(tenant, p.external_id)
        if not result.again:
            await self.ledger.audit(
                actor=f"line:{who}", action="line_link", tenant=tenant, target=leader.external_id, detail={"kind": leader.kind}
            )
        log.info("line_leader_linked", tenant=tenant, user=who, kind=leader.kind)
        leader_prefs = Prefs(leader.districts, leader.language, leader.topics)
        await self._reply(town, event, town.dialog.notice(leader_prefs, "line.link_done"), reply=reply)
        return "link:ok"

    async def _reply(self, town: _Town, event: Event, messages: list[dict[str, Any]], *, reply: bool) -> None:
        # "standby": another module holds the chat and we must not speak; a swept event's reply
        # token has expired; without an access token the town has no live LINE.
        if not (reply and event.active and event.reply_token and town.client is not None):
            return
        try:
            await town.client.reply(event.reply_token, messages)
        except BroadcasterError as e:
            # The change is made; only the answer is lost (an expired token, LINE down).
            log.warning("line_reply_failed", tenant=town.dialog.tenant, event_id=event.id, error=str(e)[:200])


def _why(e: BaseException) -> str:
    """An error for the log without the personal data a database error quotes: SQLAlchemy puts
    the statement's parameters (a LINE user id, a district) into its message."""
    if isinstance(e, sa_exc.StatementError):
        return f"{type(e).__name__}: {type(e.orig).__name__}"
    return f"{type(e).__name__}: {str(e)[:200]}"


def _fresh(event: Event, now: datetime) -> bool:
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


def attach(app: web.Application) -> None:
    """Start the sweeper with the app and stop it (and finish events in hand) with it."""

    async def on_startup(app: web.Application) -> None:
        LineWebhook.of(app).start()

    async def on_cleanup(app: web.Application) -> None:
        service = app[CONTEXT].extras.get("line_webhook")
        if isinstance(service, LineWebhook):
            await service.close()

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
