"""A fake of the broadcaster's signed ingest hook on loopback, for testing the J-Alert bridge.

It verifies each request with the real scheme (broadcaster.signing) and a nonce memory of its own,
records what it accepted in order, and can be scripted to answer the next requests with a status
(503, 400, 401 ...) or be stopped and started again on the same port (an outage).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from broadcaster.signing import SignatureRefused, verify

PATH = "/ingest/jalert"


@dataclass(frozen=True)
class Received:
    body: bytes
    content_type: str
    key_id: str
    nonce: str


@dataclass
class FakeIngestEndpoint:
    secrets: dict[str, bytes]
    port: int
    accepted: list[Received] = field(default_factory=list)
    # Every request's answer, in order (including refusals and scripted failures).
    answers: list[int] = field(default_factory=list)
    max_skew_s: float = 300.0
    _script: deque[int] = field(default_factory=deque)
    _nonces: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def fail_next(self, *statuses: int) -> None:
        self._script.extend(statuses)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if self._script:
            status = self._script.popleft()
            self.answers.append(status)
            return web.json_response({"error": "scripted"}, status=status)
        try:
            ok = verify(
                request.headers, request.method, request.path, body,
                secret_of=self.secrets.get, now=time.time(), max_skew_s=self.max_skew_s,
            )  # fmt: skip
        except SignatureRefused as e:
            self.answers.append(401)
            return web.json_response({"error": "refused", "reason": e.reason}, status=401)
        if ok.nonce in self._nonces:
            self.answers.append(401)
            return web.json_response({"error": "refused", "reason": "replayed"}, status=401)
        self._nonces.add(ok.nonce)
        self.accepted.append(Received(body, request.headers.get("Content-Type", ""), ok.key_id, ok.nonce))
        self.answers.append(202)
        return web.json_response({"raw_event": str(len(self.accepted))}, status=202)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
