"""SMS through Twilio's Programmable Messaging (the Messages resource of its REST API, 2010-04-01),
the first SMS gateway adapter; others plug in under the same entry-point group.

What the adapter relies on, after Twilio's API reference: ``POST /2010-04-01/Accounts/{AccountSid}/
Messages.json`` with HTTP Basic (account SID, auth token) and the form fields ``To`` (E.164),
``From`` (or ``MessagingServiceSid``) and ``Body`` answers 201 with the message: its ``sid`` and
``status`` (queued, accepted). Refusals are 400 with a JSON ``code``: 21211 an invalid To number,
21614 not a mobile number, 21610 the recipient opted out (STOP), 21408 the region is not enabled;
401 (20003) wrong credentials; 429 (20429) too many requests; 5xx a fault of Twilio's. ``GET
…/Messages/{sid}.json`` reads the delivery receipt: ``status`` sent, delivered, undelivered or
failed, with ``error_code`` (30003 unreachable handset, 30005 unknown handset, 30006 a landline
or unreachable carrier, 30007 carrier filtering, 30008 unknown).

Twilio has no idempotency key for a message: a retry after a crash may repeat an SMS
(docs/decisions.md, decision 2). Within one process a retry of the dispatch sends only to the
numbers not yet done (adapters/outbound/fanout.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from broadcaster.errors import PermanentError, TransientError

API_VERSION = "2010-04-01"
FINAL = frozenset({"delivered", "undelivered", "failed", "read", "canceled"})
# Receipt errors after which another try of SMS cannot help this number (a landline, no such phone).
NOT_A_MOBILE = frozenset({30005, 30006, 21614, 21211})


def e164(number: str, country: str = "81") -> str:
    """"0768-52-0001" → "+81768520001"; a number already in E.164 stays as it is."""
    digits = re.sub(r"[^\d+]", "", number)
    if digits.startswith("+"):
        return digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("0"):
        return f"+{country}{digits[1:]}"
    return f"+{country}{digits}"


@dataclass(frozen=True, slots=True)
class Sent:
    sid: str
    status: str
    error_code: int | None = None


class TwilioError(PermanentError):
    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"Twilio {status} {code or ''}: {message[:200]}")
        self.status = status
        self.code = code


class Twilio:
    def __init__(self, base_url: str, account_sid: str, auth_token: str, *, timeout_s: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.account = account_sid
        token = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session

    def _url(self, tail: str) -> str:
        return f"{self.base}/{API_VERSION}/Accounts/{self.account}/{tail}"

    async def _json(self, r: aiohttp.ClientResponse, what: str) -> Any:
        text = await r.text()
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {}
        if r.status < 300:
            return data
        code = data.get("code") if isinstance(data, dict) else None
        message = str(data.get("message", text)) if isinstance(data, dict) else text
        if r.status == 429:
            retry = r.headers.get("Retry-After")
            raise TransientError(f"Twilio {what}: 429 {code}: {message[:200]}", retry_after=float(retry) if retry and retry.isdigit() else None)
        if r.status >= 500 or r.status == 408:
            raise TransientError(f"Twilio {what}: {r.status}: {message[:200]}")
        raise TwilioError(r.status, code, message)

    async def send(self, *, to: str, body: str, sender: str, service_sid: str | None = None) -> Sent:
        form = {"To": to, "Body": body}
        if service_sid:
            form["MessagingServiceSid"] = service_sid
        else:
            form["From"] = sender
        try:
            async with self.session.post(self._url("Messages.json"), data=form) as r:
                data = await self._json(r, "send")
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransientError(f"Twilio send: {type(e).__name__}: {e}") from e
        return Sent(str(data["sid"]), str(data.get("status", "queued")), data.get("error_code"))

    async def fetch(self, sid: str) -> Sent:
        try:
            async with self.session.get(self._url(f"Messages/{sid}.json")) as r:
                data = await self._json(r, "receipt")
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransientError(f"Twilio receipt: {type(e).__name__}: {e}") from e
        code = data.get("error_code")
        return Sent(sid, str(data.get("status", "")), int(code) if code is not None else None)

    async def receipts(self, sids: list[str], *, wait_s: float, every_s: float) -> dict[str, Sent]:
        """The latest receipt of each message, read until all are final or `wait_s` has passed."""
        latest: dict[str, Sent] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        pending = list(sids)
        while pending:
            for sid in pending:
                try:
                    latest[sid] = await self.fetch(sid)
                except TransientError:
                    continue  # read again next round; a receipt read late is still a receipt
            pending = [s for s in pending if s not in latest or latest[s].status not in FINAL]
            if not pending or loop.time() + every_s > deadline:
                break
            await asyncio.sleep(every_s)
        return latest

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
