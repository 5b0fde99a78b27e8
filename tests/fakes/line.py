"""A fake LINE Messaging API on loopback: the sending endpoints and the quota, as the real one answers.

What it holds to, after LINE's reference: a Bearer channel access token; X-Line-Retry-Key must be a
UUID, and a key that was accepted once is answered with 409, the first request's id in
``x-line-accepted-request-id`` (and, for a push, the messages sent then) and nothing delivered
again; at most five messages per request, text up to 5,000 characters, a Flex altText up to 1,500;
multicast to at most 500 user ids of the form U + 32 hex digits; every answer has
``x-line-request-id``; a request that would pass the month's allowance gets 429 "You have reached
your monthly limit."; there is no Retry-After. Each recipient of each accepted request counts one
message against the allowance, as LINE counts them.

Also as LINE documents it: text and altText lengths count UTF-16 code units; broadcast and
narrowcast are limited per hour (429 with the rate-limit message past `hourly_limit`); a narrowcast
is answered 202 and runs on: its progress (GET /v2/bot/message/progress/narrowcast) goes through
the phases a test scripts (`narrowcast_phases`) and may end ``failed`` with an errorCode and
description (`fail_narrowcast`), delivering to nobody; push and multicast take
``customAggregationUnits`` (one name of [A-Za-z0-9_]{1,30}, at most 1,000 names a month), and the
insight endpoints answer per request id (broadcast, narrowcast) and per aggregation unit with the
opens a test records (`open`).

Tests script failures for the next requests (a status, optionally after the request was accepted,
as when an answer is lost on the way back), set a latency per request, and read every request it
saw, headers included, and every delivery it made.

For the webhook (broadcaster/web/line_hook.py) it also plays the LINE Platform's other side: it
makes webhook events with fresh ids and reply tokens (`event`, `body`, `sign`), answers the reply
API as LINE does (a reply token works once, and only one the platform issued), serves profiles
(only the language matters to us), and keeps rich menus: create, validate, upload the picture
(PNG or JPEG, at most 1 MB, the menu's size), make one the default, list and delete them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import struct
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tests.fakes.loopback import Served, serve

USER_ID = re.compile(r"U[0-9a-f]{32}")
MONTHLY_LIMIT = "You have reached your monthly limit."
RATE_LIMIT = "The API rate limit has been exceeded. Try again later."
RETRY_KEY_ACCEPTED = "The retry key is already accepted"


@dataclass(frozen=True)
class Seen:
    """One request as the fake saw it, whatever it answered."""

    method: str
    path: str
    headers: CIMultiDictProxy[str]
    body: Any
    status: int
    request_id: str
    reason: str | None = None

    @property
    def retry_key(self) -> str | None:
        return self.headers.get("X-Line-Retry-Key")


@dataclass(frozen=True)
class Delivered:
    """One accepted send: to whom (empty for a broadcast or narrowcast) and what."""

    endpoint: str
    to: tuple[str, ...]
    messages: tuple[dict[str, Any], ...]
    request_id: str
    retry_key: str | None
    body: dict[str, Any]


@dataclass(frozen=True)
class Replied:
    """One accepted reply: the token it used and the messages (with their quick replies)."""

    token: str
    messages: tuple[dict[str, Any], ...]

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages if m.get("type") == "text"]

    def quick_replies(self) -> list[dict[str, Any]]:
        """The actions of the last message's quick-reply buttons (LINE shows only those)."""
        last = self.messages[-1] if self.messages else {}
        return [item["action"] for item in last.get("quickReply", {}).get("items", [])]


@dataclass
class RichMenu:
    menu: dict[str, Any]
    image: bytes | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class _Script:
    status: int
    message: str
    after_accepting: bool = False
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Narrowcast:
    request_id: str
    phases: deque[str]
    target: int
    error_code: int | None = None
    description: str | None = None


@dataclass
class FakeLine(Served):
    token: str = "line-token"
    # Seconds before each sending request is handled (the network and LINE's own work).
    latency: float = 0.0
    monthly_limit: int | None = None
    # How many people a broadcast or a narrowcast reaches (counts against the allowance).
    followers: int = 100
    used: int = 0
    requests: list[Seen] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)
    url: str = ""
    _script: deque[_Script] = field(default_factory=deque)
    # An outage: while set, every sending request gets the next of these answers in turn (a
    # status, or 0 for no answer at all: the request hangs until the client gives up).
    outage: tuple[int, ...] = ()
    _outage_seq: int = 0
    _accepted: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    # Broadcast and narrowcast requests accepted within an hour (the reference: 60 an hour).
    hourly_limit: int = 60
    # Push and multicast requests per second of this channel (the reference: 200 for multicast;
    # None: unlimited, as most tests want). Over it, 429 with the rate-limit message.
    per_second_limit: int | None = None
    _per_second: dict[str, deque[float]] = field(default_factory=dict)
    _hourly: dict[str, deque[float]] = field(default_factory=dict)
    # The phases the next narrowcast's progress goes through, one per progress request.
    narrowcast_phases: tuple[str, ...] = ("succeeded",)
    _next_narrowcast_failure: tuple[int, str] | None = None
    narrowcasts: dict[str, Narrowcast] = field(default_factory=dict)
    units: set[str] = field(default_factory=set)
    # request id or aggregation unit → people who opened it
    opens: dict[str, int] = field(default_factory=dict)
    # --- the webhook's side -------------------------------------------------------------------
    # userId → profile as LINE answers it (displayName, language...); unknown users get 404.
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: list[Replied] = field(default_factory=list)
    richmenus: dict[str, RichMenu] = field(default_factory=dict)
    default_richmenu: str | None = None
    _reply_tokens: dict[str, bool] = field(default_factory=dict)  # token → used
    _event_seq: int = 0

    # --- scripting -------------------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        message: str = "scripted failure",
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        for _ in range(times):
            self._script.append(_Script(status, message, headers=tuple((headers or {}).items())))

    def rate_limit_next(self, times: int = 1) -> None:
        self.fail_next(429, RATE_LIMIT, times=times)

    def lose_answer_next(self, status: int = 502) -> None:
        """The next send is accepted and delivered, but the client gets `status` instead of 200."""
        self._script.append(_Script(status, "the answer was lost on the way", after_accepting=True))

    def fail_narrowcast(self, error_code: int = 4, description: str = "audience too small") -> None:
        """The next narrowcast is accepted (202) and then fails: its progress ends ``failed``."""
        self._next_narrowcast_failure = (error_code, description)

    def open(self, ref: str, people: int) -> None:
        """`people` opened the messages of a request id or an aggregation unit."""
        self.opens[ref] = self.opens.get(ref, 0) + people

    def recipients(self) -> list[str]:
        """Every user id delivered to, one entry per delivery (a duplicate shows twice)."""
        return [u for d in self.delivered for u in d.to]

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=2 * 1024 * 1024)
        for endpoint in ("push", "multicast", "narrowcast", "broadcast"):
            app.router.add_post(f"/v2/bot/message/{endpoint}", self._send)
        app.router.add_post("/v2/bot/message/reply", self._reply)
        app.router.add_get("/v2/bot/profile/{user}", self._profile)
        app.router.add_post("/v2/bot/richmenu/validate", self._richmenu_validate)
        app.router.add_get("/v2/bot/richmenu/list", self._richmenu_list)
        app.router.add_post("/v2/bot/richmenu", self._richmenu_create)
        app.router.add_get("/v2/bot/richmenu/{id}", self._richmenu_get)
        app.router.add_delete("/v2/bot/richmenu/{id}", self._richmenu_delete)
        app.router.add_post("/v2/bot/richmenu/{id}/content", self._richmenu_content)
        app.router.add_get("/v2/bot/user/all/richmenu", self._richmenu_default_get)
        app.router.add_post("/v2/bot/user/all/richmenu/{id}", self._richmenu_default_set)
        app.router.add_get("/v2/bot/message/quota", self._quota)
        app.router.add_get("/v2/bot/message/quota/consumption", self._consumption)
        app.router.add_get("/v2/bot/message/progress/narrowcast", self._narrowcast_progress)
        app.router.add_get("/v2/bot/insight/message/event", self._insight_event)
        app.router.add_get("/v2/bot/insight/message/event/aggregation", self._insight_unit)
        self._runner, self.url = await serve(app)
        return self.url

    # --- the API ---------------------------------------------------------------------------
    def _answer(
        self,
        request: web.Request,
        body: Any,
        status: int,
        payload: dict[str, Any],
        *,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        request_id = uuid.uuid4().hex
        self.requests.append(
            Seen(
                request.method,
                request.path,
                CIMultiDictProxy(CIMultiDict(request.headers)),
                body,
                status,
                request_id,
                reason,
            )
        )
        return web.json_response(
            payload, status=status, headers={"x-line-request-id": request_id, **(headers or {})}
        )

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _send(self, request: web.Request) -> web.Response:
        endpoint = request.path.rsplit("/", 1)[1]
        raw = await request.read()
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            body = json.loads(raw)
        except ValueError:
            return self._answer(request, raw, 400, {"message": "The request body is not valid JSON"})
        started = time.monotonic()
        if self.outage:
            status = self.outage[self._outage_seq % len(self.outage)]
            self._outage_seq += 1
            if status == 0:  # no answer while the outage lasts (the client's timeout decides)
                while self.outage and time.monotonic() - started < 60:
                    await asyncio.sleep(0.05)
                status = 503
            message = RATE_LIMIT if status == 429 else "Internal Server Error"
            return self._answer(request, body, status, {"message": message}, reason="outage")
        if not self._authorized(request):
            return self._answer(
                request,
                body,
                401,
                {
                    "message": "Authentication failed. Confirm that the access token in the authorization header is valid."
                },
                reason="unauthorized",
            )
        script = self._script.popleft() if self._script else None
        if script is not None and not script.after_accepting:
            return self._answer(
                request,
                body,
                script.status,
                {"message": script.message},
                reason="scripted",
                headers=dict(script.headers),
            )
        key = request.headers.get("X-Line-Retry-Key")
        if key is not None:
            try:
                uuid.UUID(key)
            except ValueError:
                return self._answer(
                    request, body, 400, {"message": "The value for the 'X-Line-Retry-Key' header is invalid"}
                )
            if key in self._accepted:
                first_id, first_payload = self._accepted[key]
                return self._answer(
                    request,
                    body,
                    409,
                    {"message": RETRY_KEY_ACCEPTED, **first_payload},
                    reason="retry_key_replayed",
                    headers={"x-line-accepted-request-id": first_id},
                )
        problems = _problems(endpoint, body)
        if problems:
            return self._answer(
                request,
                body,
                400,
                {"message": f"The request body has {len(problems)} error(s)", "details": problems},
                reason="invalid",
            )
        unit_list = body.get("customAggregationUnits") or []
        if unit_list and endpoint in ("push", "multicast"):
            fresh = {u for u in unit_list if u not in self.units}
            if len(self.units) + len(fresh) > 1000:
                return self._answer(
                    request, body, 429, {"message": "The monthly limit for aggregation units has been reached"}
                )
        to = _recipients(endpoint, body)
        count = len(to) if to else self.followers
        if endpoint in ("broadcast", "narrowcast"):
            window = self._hourly.setdefault(endpoint, deque())
            now = time.monotonic()
            while window and now - window[0] > 3600:
                window.popleft()
            if len(window) >= self.hourly_limit:
                return self._answer(request, body, 429, {"message": RATE_LIMIT}, reason="hourly")
        if endpoint in ("push", "multicast") and self.per_second_limit is not None:
            window = self._per_second.setdefault(endpoint, deque())
            now = time.monotonic()
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self.per_second_limit:
                return self._answer(request, body, 429, {"message": RATE_LIMIT}, reason="per_second")
            window.append(now)
        if self.monthly_limit is not None and self.used + count > self.monthly_limit:
            return self._answer(request, body, 429, {"message": MONTHLY_LIMIT}, reason="quota")
        payload: dict[str, Any] = {}
        if endpoint == "push":
            payload = {
                "sentMessages": [
                    {
                        "id": str(500000000000000000 + len(self.delivered) * 10 + n),
                        "quoteToken": uuid.uuid4().hex,
                    }
                    for n, _ in enumerate(body["messages"])
                ]
            }
        answer = self._answer(request, body, 202 if endpoint == "narrowcast" else 200, payload)
        request_id = self.requests[-1].request_id
        if endpoint in ("broadcast", "narrowcast"):
            self._hourly[endpoint].append(time.monotonic())
        self.units.update(u for u in unit_list if endpoint in ("push", "multicast"))
        failure, self._next_narrowcast_failure = (
            (self._next_narrowcast_failure, None) if endpoint == "narrowcast" else (None, self._next_narrowcast_failure)
        )
        if endpoint == "narrowcast":
            phases = deque(self.narrowcast_phases)
            if failure is not None:
                phases = deque([*list(phases)[:-1], "failed"])
            self.narrowcasts[request_id] = Narrowcast(
                request_id, phases, self.followers, *(failure if failure else (None, None))
            )
        if failure is None:
            self.used += count
            self.delivered.append(Delivered(endpoint, to, tuple(body["messages"]), request_id, key, body))
        if key is not None:
            self._accepted[key] = (request_id, payload)
        if script is not None:
            # Delivered, but the answer goes astray: the client sees a failure and will retry.
            self.requests[-1] = Seen(
                request.method,
                request.path,
                self.requests[-1].headers,
                body,
                script.status,
                request_id,
                "answer_lost",
            )
            return web.json_response({"message": script.message}, status=script.status)
        return answer

    async def _narrowcast_progress(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        n = self.narrowcasts.get(request.query.get("requestId", ""))
        if n is None:
            return self._answer(request, None, 404, {"message": "Not found"})
        phase = n.phases.popleft() if len(n.phases) > 1 else n.phases[0]
        out: dict[str, Any] = {"phase": phase, "acceptedTime": "2025-01-01T00:00:00.000Z"}
        if phase == "succeeded":
            out.update(successCount=n.target, failureCount=0, targetCount=n.target)
            out["completedTime"] = "2025-01-01T00:00:05.000Z"
        elif phase == "failed":
            out.update(errorCode=n.error_code, failedDescription=n.description)
            out["completedTime"] = "2025-01-01T00:00:05.000Z"
        return self._answer(request, None, 200, out)

    def _overview(self, ref: str, delivered: int) -> dict[str, Any]:
        opened = self.opens.get(ref, 0)
        return {
            "overview": {
                "requestId": ref,
                "timestamp": 1735689600,
                "delivered": delivered,
                "uniqueImpression": opened or None,
                "uniqueClick": None,
                "uniqueMediaPlayed": None,
                "uniqueMediaPlayed100Percent": None,
            },
            "messages": [],
            "clicks": [],
        }

    async def _insight_event(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        ref = request.query.get("requestId", "")
        sent = [d for d in self.delivered if d.request_id == ref and d.endpoint in ("broadcast", "narrowcast")]
        if not sent:
            return self._answer(request, None, 404, {"message": "Not found"})
        return self._answer(request, None, 200, self._overview(ref, self.followers))

    async def _insight_unit(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        unit = request.query.get("customAggregationUnit", "")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,30}", unit) or not re.fullmatch(r"\d{8}", request.query.get("from", "")):
            return self._answer(request, None, 400, {"message": "invalid parameters"})
        opened = self.opens.get(unit, 0)
        overview = {
            "uniqueImpression": opened or None,
            "uniqueClick": None,
            "uniqueMediaPlayed": None,
            "uniqueMediaPlayed100Percent": None,
        }
        return self._answer(request, None, 200, {"overview": overview, "messages": [], "clicks": []})

    async def _quota(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        if self.monthly_limit is None:
            return self._answer(request, None, 200, {"type": "none"})
        return self._answer(request, None, 200, {"type": "limited", "value": self.monthly_limit})

    async def _consumption(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        return self._answer(request, None, 200, {"totalUsage": self.used})

    # --- the platform's side of the webhook ---------------------------------------------------
    def event(
        self,
        kind: str,
        user_id: str | None,
        *,
        event_id: str | None = None,
        timestamp_ms: int | None = None,
        redelivery: bool = False,
        mode: str = "active",
        reply: bool | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A webhook event as LINE sends it: a fresh id (26 characters, like LINE's ULIDs), the
        time now, and a reply token issued by this fake for the kinds that can be answered."""
        self._event_seq += 1
        event: dict[str, Any] = {
            "type": kind,
            "mode": mode,
            "timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "source": {"type": "user", "userId": user_id} if user_id else {"type": "group", "groupId": "C" + "0" * 32},
            "webhookEventId": event_id or f"01J{self._event_seq:08d}{uuid.uuid4().hex[:15].upper()}",
            "deliveryContext": {"isRedelivery": redelivery},
            **fields,
        }
        if reply if reply is not None else kind not in ("unfollow", "leave"):
            token = uuid.uuid4().hex
            self._reply_tokens[token] = False
            event["replyToken"] = token
        if kind == "follow":
            event.setdefault("follow", {"isUnblocked": False})
        return event

    def follow(self, user_id: str, **kw: Any) -> dict[str, Any]:
        return self.event("follow", user_id, **kw)

    def unfollow(self, user_id: str, **kw: Any) -> dict[str, Any]:
        return self.event("unfollow", user_id, **kw)

    def text(self, user_id: str, text: str, **kw: Any) -> dict[str, Any]:
        message = {"type": "text", "id": str(600000000000000000 + self._event_seq), "quoteToken": uuid.uuid4().hex, "text": text}
        return self.event("message", user_id, message=message, **kw)

    def postback(self, user_id: str, data: str, **kw: Any) -> dict[str, Any]:
        return self.event("postback", user_id, postback={"data": data}, **kw)

    @staticmethod
    def body(*events: dict[str, Any], destination: str = "U" + "f" * 32) -> bytes:
        return json.dumps({"destination": destination, "events": list(events)}, ensure_ascii=False).encode("utf-8")

    @staticmethod
    def sign(secret: str, body: bytes) -> str:
        """X-Line-Signature: Base64 of HMAC-SHA256 over the body, keyed with the channel secret."""
        return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")

    def replies_to(self, token_of: dict[str, Any]) -> list[Replied]:
        """The replies that used this event's reply token."""
        return [r for r in self.replies if r.token == token_of.get("replyToken")]

    async def _reply(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return self._answer(request, raw, 400, {"message": "The request body is not valid JSON"})
        if not self._authorized(request):
            return self._answer(request, body, 401, {"message": "Authentication failed."}, reason="unauthorized")
        script = self._script.popleft() if self._script else None
        if script is not None:
            return self._answer(request, body, script.status, {"message": script.message}, reason="scripted")
        token = body.get("replyToken") if isinstance(body, dict) else None
        if not isinstance(token, str) or self._reply_tokens.get(token, True):
            return self._answer(request, body, 400, {"message": "Invalid reply token"}, reason="reply_token")
        problems = _problems("reply", body)
        if problems:
            return self._answer(
                request, body, 400, {"message": f"The request body has {len(problems)} error(s)", "details": problems}, reason="invalid"
            )
        self._reply_tokens[token] = True
        self.replies.append(Replied(token, tuple(body["messages"])))
        return self._answer(request, body, 200, {"sentMessages": [{"id": uuid.uuid4().hex[:18]} for _ in body["messages"]]})

    async def _profile(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        user = request.match_info["user"]
        profile = self.profiles.get(user)
        if profile is None:
            return self._answer(request, None, 404, {"message": "Not found"})
        return self._answer(request, None, 200, {"userId": user, "displayName": "テスト", **profile})

    # --- rich menus ---------------------------------------------------------------------------
    async def _richmenu_body(self, request: web.Request) -> tuple[Any, web.Response | None]:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return None, self._answer(request, raw, 400, {"message": "The request body is not valid JSON"})
        if not self._authorized(request):
            return None, self._answer(request, body, 401, {"message": "Authentication failed."})
        problems = _richmenu_problems(body)
        if problems:
            return None, self._answer(request, body, 400, {"message": "Invalid rich menu object", "details": problems})
        return body, None

    async def _richmenu_validate(self, request: web.Request) -> web.Response:
        body, refused = await self._richmenu_body(request)
        return refused or self._answer(request, body, 200, {})

    async def _richmenu_create(self, request: web.Request) -> web.Response:
        body, refused = await self._richmenu_body(request)
        if refused is not None:
            return refused
        menu_id = f"richmenu-{uuid.uuid4().hex}"
        self.richmenus[menu_id] = RichMenu(body)
        return self._answer(request, body, 200, {"richMenuId": menu_id})

    def _menu(self, request: web.Request) -> tuple[str, RichMenu | None]:
        menu_id = request.match_info["id"]
        return menu_id, self.richmenus.get(menu_id)

    async def _richmenu_get(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        menu_id, menu = self._menu(request)
        if menu is None:
            return self._answer(request, None, 404, {"message": "Not found"})
        return self._answer(request, None, 200, {"richMenuId": menu_id, **menu.menu})

    async def _richmenu_list(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        menus = [{"richMenuId": k, **m.menu} for k, m in self.richmenus.items()]
        return self._answer(request, None, 200, {"richmenus": menus})

    async def _richmenu_delete(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        menu_id, menu = self._menu(request)
        if menu is None:
            return self._answer(request, None, 404, {"message": "Not found"})
        del self.richmenus[menu_id]
        if self.default_richmenu == menu_id:
            self.default_richmenu = None
        return self._answer(request, None, 200, {})

    async def _richmenu_content(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        image = await request.read()
        _, menu = self._menu(request)
        if menu is None:
            return self._answer(request, None, 404, {"message": "Not found"})
        content_type = request.headers.get("Content-Type", "")
        if content_type not in ("image/png", "image/jpeg"):
            return self._answer(request, None, 415, {"message": "Unsupported Media Type"})
        if len(image) > 1024 * 1024:
            return self._answer(request, None, 413, {"message": "Request Entity Too Large"})
        if menu.image is not None:
            return self._answer(request, None, 400, {"message": "An image has already been uploaded to the richmenu"})
        if content_type == "image/png":
            if not image.startswith(b"\x89PNG\r\n\x1a\n") or len(image) < 24:
                return self._answer(request, None, 400, {"message": "the image is not a PNG"})
            size = struct.unpack(">II", image[16:24])
            if size != (menu.menu["size"]["width"], menu.menu["size"]["height"]):
                return self._answer(request, None, 400, {"message": "The image size does not match the rich menu size"})
        menu.image, menu.content_type = image, content_type
        return self._answer(request, None, 200, {})

    async def _richmenu_default_get(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        if self.default_richmenu is None:
            return self._answer(request, None, 404, {"message": "no default richmenu"})
        return self._answer(request, None, 200, {"richMenuId": self.default_richmenu})

    async def _richmenu_default_set(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._answer(request, None, 401, {"message": "Authentication failed."})
        menu_id, menu = self._menu(request)
        if menu is None:
            return self._answer(request, None, 404, {"message": "Not found"})
        if menu.image is None:
            return self._answer(request, None, 400, {"message": "must upload richmenu image before applying it to user"})
        self.default_richmenu = menu_id
        return self._answer(request, None, 200, {})


def _units(text: str) -> int:
    """Characters as LINE counts them (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _action_problems(action: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(action, dict):
        return [{"message": "must be an object", "property": where}]
    out: list[dict[str, str]] = []
    label = action.get("label")
    if label is not None and (not isinstance(label, str) or not 1 <= _units(label) <= 20):
        out.append({"message": "Length must be between 1 and 20", "property": f"{where}.label"})
    kind = action.get("type")
    if kind == "postback":
        data = action.get("data")
        if not isinstance(data, str) or not 1 <= len(data) <= 300:
            out.append({"message": "Length must be between 1 and 300", "property": f"{where}.data"})
        shown = action.get("displayText")
        if shown is not None and (not isinstance(shown, str) or not 1 <= len(shown) <= 300):
            out.append({"message": "Length must be between 1 and 300", "property": f"{where}.displayText"})
    elif kind == "uri":
        uri = action.get("uri")
        if not isinstance(uri, str) or not re.match(r"^(https?|line|tel):", uri) or len(uri) > 1000:
            out.append({"message": "invalid uri", "property": f"{where}.uri"})
    elif kind != "message":
        out.append({"message": "unsupported action type", "property": f"{where}.type"})
    return out


def _richmenu_problems(body: Any) -> list[dict[str, str]]:
    if not isinstance(body, dict):
        return [{"message": "must be an object", "property": ""}]
    out: list[dict[str, str]] = []
    size = body.get("size") or {}
    w, h = size.get("width"), size.get("height")
    if not (isinstance(w, int) and isinstance(h, int) and 800 <= w <= 2500 and h >= 250 and w / h >= 1.45):
        out.append({"message": "invalid size", "property": "size"})
        w = h = 0
    if not isinstance(body.get("selected"), bool):
        out.append({"message": "must be a boolean", "property": "selected"})
    name, bar = body.get("name"), body.get("chatBarText")
    if not isinstance(name, str) or not 1 <= len(name) <= 300:
        out.append({"message": "Length must be between 1 and 300", "property": "name"})
    if not isinstance(bar, str) or not 1 <= _units(bar) <= 14:
        out.append({"message": "Length must be between 1 and 14", "property": "chatBarText"})
    areas = body.get("areas")
    if not isinstance(areas, list) or not 1 <= len(areas) <= 20:
        return [*out, {"message": "Size must be between 1 and 20", "property": "areas"}]
    for n, area in enumerate(areas):
        b = area.get("bounds") if isinstance(area, dict) else None
        if not isinstance(b, dict) or not all(isinstance(b.get(k), int) for k in ("x", "y", "width", "height")):
            out.append({"message": "invalid bounds", "property": f"areas[{n}].bounds"})
            continue
        if b["x"] < 0 or b["y"] < 0 or b["x"] + b["width"] > w or b["y"] + b["height"] > h:
            out.append({"message": "out of the rich menu", "property": f"areas[{n}].bounds"})
        out.extend(_action_problems(area.get("action"), f"areas[{n}].action"))
    return out


def _recipients(endpoint: str, body: dict[str, Any]) -> tuple[str, ...]:
    if endpoint == "push":
        return (body["to"],)
    if endpoint == "multicast":
        return tuple(body["to"])
    return ()


def _problems(endpoint: str, body: Any) -> list[dict[str, str]]:
    """What LINE would refuse in the request body, as its error details."""
    out: list[dict[str, str]] = []
    if not isinstance(body, dict):
        return [{"message": "must be an object", "property": ""}]
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        out.append({"message": "Size must be between 1 and 5", "property": "messages"})
        messages = []
    for n, m in enumerate(messages):
        kind = m.get("type") if isinstance(m, dict) else None
        if isinstance(m, dict) and "quickReply" in m:
            items = m["quickReply"].get("items") if isinstance(m["quickReply"], dict) else None
            if not isinstance(items, list) or not 1 <= len(items) <= 13:
                out.append({"message": "Size must be between 1 and 13", "property": f"messages[{n}].quickReply.items"})
                items = []
            for i, item in enumerate(items):
                where = f"messages[{n}].quickReply.items[{i}]"
                if not isinstance(item, dict) or item.get("type") != "action":
                    out.append({"message": "must be an action item", "property": where})
                    continue
                action = item.get("action")
                if isinstance(action, dict) and not action.get("label"):
                    out.append({"message": "must be specified", "property": f"{where}.action.label"})
                out.extend(_action_problems(action, f"{where}.action"))
        if kind == "text":
            if not isinstance(m.get("text"), str) or not 1 <= _units(m["text"]) <= 5000:
                out.append(
                    {"message": "Length must be between 1 and 5000", "property": f"messages[{n}].text"}
                )
        elif kind == "flex":
            alt = m.get("altText")
            if not isinstance(alt, str) or not 1 <= _units(alt) <= 1500:
                out.append(
                    {"message": "Length must be between 1 and 1500", "property": f"messages[{n}].altText"}
                )
            contents = m.get("contents")
            if not isinstance(contents, dict) or contents.get("type") not in ("bubble", "carousel"):
                out.append(
                    {"message": "must be a bubble or a carousel", "property": f"messages[{n}].contents"}
                )
        else:
            out.append(
                {
                    "message": "Must be one of the following values: [text, flex, ...]",
                    "property": f"messages[{n}].type",
                }
            )
    units = body.get("customAggregationUnits")
    if units is not None:
        if endpoint not in ("push", "multicast"):
            out.append({"message": "not supported on this endpoint", "property": "customAggregationUnits"})
        elif not isinstance(units, list) or len(units) > 1 or not all(
            isinstance(u, str) and re.fullmatch(r"[A-Za-z0-9_]{1,30}", u) for u in units
        ):
            out.append({"message": "invalid aggregation unit", "property": "customAggregationUnits"})
    if endpoint == "multicast":
        to = body.get("to")
        if not isinstance(to, list) or not 1 <= len(to) <= 500:
            out.append({"message": "Size must be between 1 and 500", "property": "to"})
        else:
            out.extend(
                {"message": "invalid user id", "property": f"to[{n}]"}
                for n, u in enumerate(to)
                if not isinstance(u, str) or not USER_ID.fullmatch(u)
            )
    if endpoint == "push" and not (isinstance(body.get("to"), str) and USER_ID.fullmatch(body["to"])):
        out.append({"message": "invalid user id", "property": "to"})
    return out
