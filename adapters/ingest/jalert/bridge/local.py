"""The bridge's local HTTP hook: the receiver (or a script reading its contact outputs) posts here.

    POST /message          the body is one message (any accepted format); 202 once spooled
    POST /contact/<name>   a contact output (接点) closed: spools its type's approved message
                           (contacts.py), or the message configured for <name>
    GET  /status           queue depth, oldest waiting, last success and error, and each
                           receiver's health (for the town's monitoring)

It listens on loopback unless configured otherwise; with `listen_token` set, callers must send
`Authorization: Bearer <token>`. A 202 means the message is on disk: a caller may forget it.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from adapters.ingest.jalert.bridge.contacts import ContactSettings, contact_message
from adapters.ingest.jalert.bridge.forward import Forwarder
from adapters.ingest.jalert.bridge.health import HealthLog
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
        contacts: Mapping[str, ContactSettings | str],
        token: str | None,
        max_bytes: int,
        health: HealthLog | None = None,
        receiver_of: Callable[[ContactSettings | None], str | None] = lambda _: None,
    ) -> None:
        self.spool = spool
        self.forwarder = forwarder
        self.contacts = contacts
        self.token = token
        self.max_bytes = max_bytes
        self.health = health
        # Whose health a contact (None: a message posted to /message) counts for.
        self.receiver_of = receiver_of
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

    def _heard(self, receiver: str | None, via: str, *, test: bool = False) -> None:
        if self.health is not None and receiver is not None:
            self.health.heard(receiver, via, test=test)

    async def _message(self, request: web.Request) -> web.StreamResponse:
        response = await self._spool(await request.read(), "hook")
        if response.status == 202:
            self._heard(self.receiver_of(None), "file")
        return response

    async def _contact(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        contact = self.contacts.get(name)
        if contact is None:
            return web.json_response({"error": f"no contact named {name!r}"}, status=404)
        if isinstance(contact, str):
            response = await self._spool(contact.encode("utf-8"), f"contact:{name}")
            if response.status == 202:
                self._heard(self.receiver_of(None), "contact")
            return response
        receiver = self.receiver_of(contact) or "receiver"
        response = await self._spool(contact_message(name, contact, receiver), f"contact:{name}")
        if response.status == 202:
            self._heard(receiver, "contact", test=contact.type == "test")
        return response

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
                "receivers": self.health.snapshot() if self.health is not None else [],
                "mail_refused": self.health.mail_refused if self.health is not None else 0,
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
