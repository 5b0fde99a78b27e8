"""A fake Bluesky PDS on loopback: sessions and the repository calls the bluesky adapter makes.

com.atproto.server.createSession and refreshSession (JWT-shaped tokens with an expiry, which the
SDK reads), com.atproto.repo.putRecord, getRecord and deleteRecord. It checks what a PDS checks of
a post: the record key is a TID, the text at most 300 graphemes and 3,000 bytes, a reply names a
root and a parent that exist with their CIDs. A record written again under the same key with the
same content keeps its CID: one post. A record written under the key of *another* post replaces
it silently, as putRecord does on a real PDS (the fake keeps what was lost in `overwritten`).

Sessions are limited as Bluesky's PDS documents it (docs.bsky.app, "Rate Limits"): createSession
30 times in five minutes and 300 a day per account, answered 429 RateLimitExceeded with
ratelimit-* headers beyond that; a refresh token works once (refreshSession rotates it). Writes
answer with the account's write budget in ratelimit-* headers (5,000 points an hour, a create
costing 3). Tests script a 429, an expired token or a server error for the next requests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import Served, serve

TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
DID = "did:plc:anamizubousai000000000"


def _jwt(payload: dict[str, Any]) -> str:
    def part(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJl"


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    reason: str | None = None


@dataclass
class Record:
    uri: str
    cid: str
    value: dict[str, Any]
    writes: int = 1


@dataclass
class FakeBluesky(Served):
    handle: str = "anamizu-bousai.bsky.social"
    password: str = "app-pass-word"
    requests: list[Seen] = field(default_factory=list)
    records: dict[str, Record] = field(default_factory=dict)
    logins: int = 0
    refreshes: int = 0
    overwritten: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    session_limit: tuple[int, int] = (30, 300)  # per five minutes, per day
    _login_times: list[float] = field(default_factory=list)
    _refresh_tokens: set[str] = field(default_factory=set)
    points: int = 0  # write points spent this hour
    url: str = ""
    _script: deque[tuple[int, str, str, dict[str, str]]] = field(default_factory=deque)
    _tokens: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None

    def fail_next(
        self,
        status: int,
        error: str = "InternalServerError",
        message: str = "scripted",
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._script.append((status, error, message, headers or {}))

    def rate_limit_next(self, reset_in: int = 90) -> None:
        self.fail_next(
            429,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
            headers={
                "ratelimit-limit": "5000",
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(int(time.time()) + reset_in),
                "ratelimit-policy": "5000;w=3600",
            },
        )

    def expire_tokens(self) -> None:
        """Every session token stops working (the server answers ExpiredToken), as after hours."""
        self._tokens.clear()

    def posts(self) -> list[Record]:
        return list(self.records.values())

    async def start(self) -> str:
        app = web.Application()
        for name in ("server.createSession", "server.refreshSession", "repo.putRecord", "repo.deleteRecord"):
            app.router.add_post(f"/xrpc/com.atproto.{name}", self._route)
        app.router.add_get("/xrpc/com.atproto.repo.getRecord", self._get)
        self._runner, self.url = await serve(app)
        return self.url

    def _answer(
        self,
        request: web.Request,
        body: Any,
        status: int,
        payload: Any,
        *,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self.requests.append(Seen(request.path, dict(request.headers), body, status, reason))
        return web.json_response(payload, status=status, headers=headers)

    def _error(
        self, request: web.Request, body: Any, status: int, error: str, message: str, **kw: Any
    ) -> web.Response:
        return self._answer(request, body, status, {"error": error, "message": message}, **kw)

    def _session(self) -> dict[str, Any]:
        now = int(time.time())
        access = _jwt(
            {
                "scope": "com.atproto.appPass",
                "sub": DID,
                "iat": now,
                "exp": now + 7200,
                "jti": str(time.time_ns()),
            }
        )
        refresh = _jwt(
            {
                "scope": "com.atproto.refresh",
                "sub": DID,
                "iat": now,
                "exp": now + 86400 * 60,
                "jti": str(time.time_ns()),
            }
        )
        self._tokens.add(access)
        self._refresh_tokens.add(refresh)
        return {"did": DID, "handle": self.handle, "accessJwt": access, "refreshJwt": refresh, "active": True}

    async def _route(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = (await request.json() if request.can_read_body else None) or {}
        name = request.path.rsplit(".", 1)[-1]
        if self._script:
            status, error, message, headers = self._script.popleft()
            return self._error(request, body, status, error, message, reason="scripted", headers=headers)
        if name == "createSession":
            now = time.time()
            recent = [t for t in self._login_times if now - t < 300]
            today = [t for t in self._login_times if now - t < 86400]
            per_5min, per_day = self.session_limit
            if len(recent) >= per_5min or len(today) >= per_day:
                policy, window = (f"{per_5min};w=300", 300) if len(recent) >= per_5min else (f"{per_day};w=86400", 86400)
                return self._error(
                    request,
                    body,
                    429,
                    "RateLimitExceeded",
                    "Rate Limit Exceeded",
                    reason="session_limit",
                    headers={
                        "ratelimit-limit": policy.split(";")[0],
                        "ratelimit-remaining": "0",
                        "ratelimit-reset": str(int(now) + window),
                        "ratelimit-policy": policy,
                    },
                )
            self._login_times.append(now)
            if body.get("identifier") != self.handle or body.get("password") != self.password:
                return self._error(
                    request, body, 401, "AuthenticationRequired", "Invalid identifier or password"
                )
            self.logins += 1
            return self._answer(request, body, 200, self._session())
        if name == "refreshSession":
            refresh = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if refresh not in self._refresh_tokens:
                return self._error(request, body, 400, "ExpiredToken", "Token has been revoked")
            self._refresh_tokens.discard(refresh)
            self.refreshes += 1
            return self._answer(request, body, 200, self._session())
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self._tokens:
            return self._error(request, body, 400, "ExpiredToken", "Token has expired", reason="expired")
        if body.get("repo") != DID or body.get("collection") != "app.bsky.feed.post":
            return self._error(request, body, 400, "InvalidRequest", "wrong repo or collection")
        rkey = str(body.get("rkey", ""))
        if not TID.fullmatch(rkey):
            return self._error(request, body, 400, "InvalidRequest", f"Invalid record key: {rkey}")
        uri = f"at://{DID}/app.bsky.feed.post/{rkey}"
        if name == "deleteRecord":
            self.records.pop(uri, None)
            return self._answer(request, body, 200, {}, headers=self._spend(1))
        problem = self._check(body.get("record") or {})
        if problem:
            return self._error(request, body, 400, "InvalidRequest", problem, reason="invalid")
        value = body["record"]
        cid = "bafyrei" + hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:52]
        if uri in self.records:
            if self.records[uri].cid != cid:
                self.overwritten.append((uri, self.records[uri].value))
            self.records[uri].writes += 1
            self.records[uri].value, self.records[uri].cid = value, cid
        else:
            self.records[uri] = Record(uri, cid, value)
        return self._answer(
            request, body, 200, {"uri": uri, "cid": cid, "validationStatus": "valid"}, headers=self._spend(3)
        )

    def _spend(self, points: int) -> dict[str, str]:
        self.points += points
        return {
            "ratelimit-limit": "5000",
            "ratelimit-remaining": str(max(0, 5000 - self.points)),
            "ratelimit-reset": str(int(time.time()) + 3600),
            "ratelimit-policy": "5000;w=3600",
        }

    def _check(self, record: dict[str, Any]) -> str | None:
        if record.get("$type") != "app.bsky.feed.post":
            return "Record/$type must be app.bsky.feed.post"
        text = record.get("text", "")
        if sum(1 for c in text if not unicodedata.combining(c)) > 300 or len(text.encode()) > 3000:
            return "Record/text must not be longer than 300 graphemes"
        if not record.get("createdAt"):
            return 'Record must have the property "createdAt"'
        reply = record.get("reply")
        if reply is not None:
            for side in ("root", "parent"):
                ref = reply.get(side) or {}
                known = self.records.get(ref.get("uri", ""))
                if known is None or known.cid != ref.get("cid"):
                    return f"Record/reply/{side} does not name an existing post"
        return None

    async def _get(self, request: web.Request) -> web.Response:
        rkey = request.query.get("rkey", "")
        record = self.records.get(f"at://{DID}/app.bsky.feed.post/{rkey}")
        if record is None:
            return self._error(request, None, 400, "RecordNotFound", "Could not locate record")
        return self._answer(request, None, 200, {"uri": record.uri, "cid": record.cid, "value": record.value})
