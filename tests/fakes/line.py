"""A fake LINE Messaging API on loopback: the sending endpoints and the quota, as the real one answers.

What it holds to, after LINE's reference: a Bearer channel access token; X-Line-Retry-Key must be a
UUID, and a key that was accepted once is answered with 409, the first request's id in
``x-line-accepted-request-id`` (and, for a push, the messages sent then) and nothing delivered
again; at most five messages per request, text up to 5,000 characters, a Flex altText up to 1,500;
multicast to at most 500 user ids of the form U + 32 hex digits; every answer has
``x-line-request-id``; a request that would pass the month's allowance gets 429 "You have reached
your monthly limit."; there is no Retry-After. Each recipient of each accepted request counts one
message against the allowance, as LINE counts them.

Tests script failures for the next requests (a status, optionally after the request was accepted,
as when an answer is lost on the way back), set a latency per request, and read every request it
saw, headers included, and every delivery it made.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

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
class _Script:
    status: int
    message: str
    after_accepting: bool = False
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class FakeLine:
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
    _accepted: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

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

    def recipients(self) -> list[str]:
        """Every user id delivered to, one entry per delivery (a duplicate shows twice)."""
        return [u for d in self.delivered for u in d.to]

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=2 * 1024 * 1024)
        for endpoint in ("push", "multicast", "narrowcast", "broadcast"):
            app.router.add_post(f"/v2/bot/message/{endpoint}", self._send)
        app.router.add_get("/v2/bot/message/quota", self._quota)
        app.router.add_get("/v2/bot/message/quota/consumption", self._consumption)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

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
        to = _recipients(endpoint, body)
        count = len(to) if to else self.followers
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
        if kind == "text":
            if not isinstance(m.get("text"), str) or not 1 <= len(m["text"]) <= 5000:
                out.append(
                    {"message": "Length must be between 1 and 5000", "property": f"messages[{n}].text"}
                )
        elif kind == "flex":
            alt = m.get("altText")
            if not isinstance(alt, str) or not 1 <= len(alt) <= 1500:
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
