"""The bridge's local HTTP hook: the receiver (or a script reading its contact outputs) posts here.

    POST /message          the body is one message (any accepted format); 202 once spooled
    POST /contact/<name>   a contact signal (接点信号): spools the message configured for <name>
    GET  /status           queue depth, oldest waiting, last success and error (for monitoring)

It listens on loopback unless configured otherwise; with `listen_token` set, callers must send
`Authorization: Bearer <token>`. A 202 means the message is on disk: a caller may forget it.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from adapters.ingest.jalert.bridge.forward import Forwarder
from adapters.ingest.jalert.bridge.spool import Spool
from adapters.ingest.jalert.bridge.watch import content_type_of
from broadcaster.logging import get_logger

log = get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LocalHook:
    def __init__(
        self,
        spool: Spool,
        forwarder: Forwarder,
        *,
        contacts: dict[str, str],
        token: str | None,
        max_bytes: int,
    ) -> None:
        self.spool = spool
        self.forwarder = forwarder
        self.contacts = contacts
        self.token = token
        self.max_bytes = max_bytes
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_bytes, middlewares=[self._auth])
        app.router.add_post("/message", self._message)
        app.router.add_post("/contact/{name}", self._contact)
        app.router.add_get("/status", self._status)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.token is not None:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return web.json_response({"error": "authentication required"}, status=401)
        return await handler(request)

    async def _spool(self, body: bytes, origin: str) -> web.Response:
        if not body.strip():
            return web.json_response({"error": "empty message"}, status=400)
        item = await asyncio.to_thread(self.spool.put, body, content_type=content_type_of(body), origin=origin)
        self.forwarder.wake()
        log.info("jalert_spooled", message=item.id, seq=item.seq, origin=origin, size=len(body))
        return web.json_response({"spooled": item.id, "seq": item.seq}, status=202)

    async def _message(self, request: web.Request) -> web.StreamResponse:
        return await self._spool(await request.read(), "hook")

    async def _contact(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        text = self.contacts.get(name)
        if text is None:
            return web.json_response({"error": f"no contact named {name!r}"}, status=404)
        return await self._spool(text.encode("utf-8"), f"contact:{name}")

    async def _status(self, request: web.Request) -> web.StreamResponse:
        depth = await asyncio.to_thread(self.spool.depth)
        oldest = await asyncio.to_thread(self.spool.oldest)
        s = self.forwarder.status
        return web.json_response(
            {
                "queue": depth,
                "oldest_waiting": oldest.isoformat() if oldest else None,
                "sent": s.sent,
                "rejected": s.rejected,
                "failures": s.failures,
                "last_sent": s.last_sent.isoformat() if s.last_sent else None,
                "last_error": s.last_error,
            }
        )

    async def start(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        addresses = self._runner.addresses
        return int(addresses[0][1]) if addresses else port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
