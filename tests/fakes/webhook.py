"""Fake webhook receivers on loopback that do what docs/webhook.md asks of a real one.

Each receiver verifies the signature with its own secret (adapters/outbound/webhook/signing.py's
`verify`), refuses a stale timestamp or a replayed signature (401/409), and processes each
Idempotency-Key once: a repeat with a fresh signature is answered 200 and dropped. Tests script
failures per receiver and read what each one processed.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from adapters.outbound.webhook.signing import HEADER, InvalidSignature, verify
from tests.fakes.loopback import Served, serve


@dataclass(frozen=True)
class Seen:
    receiver: str
    status: int
    key: str | None
    body: bytes
    headers: dict[str, str]
    reason: str = ""


@dataclass
class FakeReceivers(Served):
    secrets: dict[str, str]
    seen: list[Seen] = field(default_factory=list)
    processed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _signatures: set[str] = field(default_factory=set)
    _keys: dict[str, set[str]] = field(default_factory=dict)
    _script: dict[str, deque[tuple[int, str | None]]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    base: str = ""

    def url(self, name: str) -> str:
        return f"{self.base}/hook/{name}"

    def fail_next(self, name: str, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        for _ in range(times):
            self._script.setdefault(name, deque()).append((status, retry_after))

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hook/{name}", self._hook)
        self._runner, self.base = await serve(app)
        return self.base

    def _answer(
        self, name: str, request: web.Request, body: bytes, status: int, reason: str = ""
    ) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        self.seen.append(Seen(name, status, key, body, dict(request.headers), reason))
        return web.json_response({"status": status, "reason": reason}, status=status)

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        body = await request.read()
        script = self._script.get(name)
        if script:
            status, wait = script.popleft()
            resp = self._answer(name, request, body, status, "scripted")
            if wait:
                resp.headers["Retry-After"] = wait
            return resp
        secret = self.secrets.get(name)
        signature = request.headers.get(HEADER, "")
        if secret is None:
            return self._answer(name, request, body, 404, "no such receiver")
        try:
            verify(secret.encode(), signature, body, now=time.time())
        except InvalidSignature as e:
            return self._answer(name, request, body, 401, str(e))
        if signature in self._signatures:
            return self._answer(name, request, body, 409, "replayed")
        self._signatures.add(signature)
        key = request.headers.get("Idempotency-Key", "")
        keys = self._keys.setdefault(name, set())
        if key in keys:
            return self._answer(name, request, body, 200, "duplicate dropped")
        keys.add(key)
        self.processed.setdefault(name, []).append(json.loads(body))
        return self._answer(name, request, body, 200, "processed")
