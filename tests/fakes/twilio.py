"""A fake Twilio Messages API on loopback: send and read back, as Twilio's reference describes.

It holds to: HTTP Basic with the account SID and auth token (401, code 20003 otherwise); the
account in the path must be the authenticated one; ``To`` must be E.164 (400, 21211) and a number
the test marks as opted out is refused (400, 21610); ``From`` or ``MessagingServiceSid`` is needed
(400, 21603); a body over 1,600 characters is refused (400, 21617); 201 with ``sid`` "SM" + 32 hex
and status "queued", ``num_segments`` as UCS-2 counts them (70, or 67 per part when concatenated).
The receipt (``GET …/Messages/{sid}.json``) moves queued → sent → the final status the test set for
that number (delivered by default; undelivered with 30006 for a landline). Scripted failures
(429 with code 20429, 503) apply to the next sends.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import Served, serve

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass
class Message:
    sid: str
    to: str
    sender: str
    body: str
    segments: int
    final: str = "delivered"
    error_code: int | None = None
    reads: int = 0


@dataclass
class FakeTwilio(Served):
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "token-for-tests"
    messages: list[Message] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)
    landlines: set[str] = field(default_factory=set)
    fail_next: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._send)
        app.router.add_get("/2010-04-01/Accounts/{account}/Messages/{sid}.json", self._fetch)
        self._runner, self.url = await serve(app)
        return self.url

    def _auth(self, request: web.Request) -> web.Response | None:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}" or request.match_info["account"] != self.account_sid:
            return _error(401, 20003, "Authenticate")
        return None

    async def _send(self, request: web.Request) -> web.Response:
        refused = self._auth(request)
        if refused is not None:
            return refused
        form = dict(await request.post())
        self.requests.append({"headers": dict(request.headers), "form": form})
        if self.fail_next:
            status = self.fail_next.pop(0)
            if status == 429:
                return _error(429, 20429, "Too Many Requests", headers={"Retry-After": "1"})
            return _error(status, None, "Service Unavailable")
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        sender = str(form.get("From") or form.get("MessagingServiceSid") or "")
        if not sender:
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
        if not E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.opted_out:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        if not body or len(body) > 1600:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit")
        ucs2 = any(ord(c) > 0x7F for c in body)
        per, per_concat = (70, 67) if ucs2 else (160, 153)
        segments = 1 if len(body) <= per else -(-len(body) // per_concat)
        message = Message(f"SM{uuid.uuid4().hex}", to, sender, body, segments)
        if to in self.landlines:
            message.final, message.error_code = "undelivered", 30006
        self.messages.append(message)
        return web.json_response(self._resource(message, "queued"), status=201)

    async def _fetch(self, request: web.Request) -> web.Response:
        refused = self._auth(request)
        if refused is not None:
            return refused
        sid = request.match_info["sid"]
        message = next((m for m in self.messages if m.sid == sid), None)
        if message is None:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        message.reads += 1
        status = "sent" if message.reads == 1 else message.final
        return web.json_response(self._resource(message, status))

    def _resource(self, m: Message, status: str) -> dict[str, Any]:
        final = status in ("undelivered", "failed")
        return {
            "sid": m.sid,
            "account_sid": self.account_sid,
            "to": m.to,
            "from": m.sender,
            "body": m.body,
            "status": status,
            "num_segments": str(m.segments),
            "direction": "outbound-api",
            "error_code": m.error_code if final else None,
            "error_message": "Landline or unreachable carrier" if final else None,
        }

    def to(self, number: str) -> list[Message]:
        return [m for m in self.messages if m.to == number]


def _error(status: int, code: int | None, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    return web.json_response(body, status=status, headers=headers)
