"""A fake area-mail gateway on loopback: the `json` link's other side (adapters/outbound/area_mail/links.py).

It checks the bearer token, takes each Idempotency-Key once (a repeat is answered 409 with the
first reference, as links.py documents), keeps the live system and the verification environment
apart (`/live` and `/verify` prefixes), and enforces the carriers' guide itself: a title of at
most 15 characters, a text of at most 200, nothing outside JIS X 0208. Tests script failures
(429 with Retry-After, 5xx, 4xx) and read what each carrier received.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import Served, serve


@dataclass(frozen=True)
class Received:
    environment: str  # live or verify
    status: int
    key: str | None
    body: dict[str, Any]


@dataclass
class FakeCarrierGateway(Served):
    token: str
    received: list[Received] = field(default_factory=list)
    _accepted: dict[str, str] = field(default_factory=dict)
    _script: deque[tuple[int, str | None]] = field(default_factory=deque)
    base: str = ""

    @property
    def live_url(self) -> str:
        return f"{self.base}/live"

    @property
    def verify_url(self) -> str:
        return f"{self.base}/verify"

    def fail_next(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        self._script.extend([(status, retry_after)] * times)

    def accepted(self, environment: str = "live") -> list[dict[str, Any]]:
        return [r.body for r in self.received if r.environment == environment and r.status in (200, 201, 202)]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{env}/messages", self._messages)
        self._runner, self.base = await serve(app)
        return self.base

    def _answer(self, env: str, key: str | None, body: dict[str, Any], status: int, data: dict[str, Any]) -> web.Response:
        self.received.append(Received(env, status, key, body))
        return web.json_response(data, status=status)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        env = request.match_info["env"]
        key = request.headers.get("Idempotency-Key")
        try:
            body = await request.json()
        except ValueError:
            return self._answer(env, key, {}, 400, {"error": "not JSON"})
        if env not in ("live", "verify"):
            return self._answer(env, key, body, 404, {"error": "no such environment"})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._answer(env, key, body, 401, {"error": "bad token"})
        if self._script:
            status, wait = self._script.popleft()
            resp = self._answer(env, key, body, status, {"error": "scripted"})
            if wait:
                resp.headers["Retry-After"] = wait
            return resp
        if not key:
            return self._answer(env, key, body, 400, {"error": "Idempotency-Key missing"})
        if (env == "live") != (body.get("mode") == "actual"):
            return self._answer(env, key, body, 422, {"error": f"mode {body.get('mode')} in the {env} environment"})
        title, text = str(body.get("title", "")), str(body.get("body", ""))
        if not title or len(title) > 15 or not text or len(text) > 200:
            return self._answer(env, key, body, 422, {"error": "title 1-15, body 1-200 characters"})
        try:
            (title + text).encode("shift_jis")
        except UnicodeEncodeError:
            return self._answer(env, key, body, 422, {"error": "characters outside JIS X 0208"})
        if key in self._accepted:
            return self._answer(env, key, body, 409, {"id": self._accepted[key], "error": "already accepted"})
        ref = f"{body.get('carrier')}-{len(self._accepted) + 1:04d}"
        self._accepted[key] = ref
        return self._answer(env, key, body, 202, {"id": ref})
