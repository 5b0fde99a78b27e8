"""A fake X API v2 on loopback, over TLS under the name api.twitter.com (tests/fakes/tls.py).

It checks each request's OAuth 1.0a signature (HMAC-SHA1 over the method, URL and parameters, as
X does), answers POST /2/tweets and DELETE /2/tweets/:id as X does, refuses a reply to an unknown
post and a post whose text repeats one the account already has ("duplicate content"), weighs text
as X does (CJK characters two, URLs 23, at most 280), and sends the rate-limit headers
(x-rate-limit-limit, -remaining, -reset) on every answer. Tests script a 429 with a reset time, the
monthly usage cap, or a server error for the next requests, and read every request and every post.

Pay-per-use (docs.x.com, "X API pay-per-usage pricing and credits"): each accepted post spends
credits, more for a post with a URL (Content: Create $0.015, with URL $0.200); with `credits` set,
a post the balance cannot pay for is refused with 402 Payment Required and a problem naming the
spent credits (X publishes no body for it; this one follows its problem format). An app with
read-only permission gets X's 403 for OAuth 1.0a permissions (`read_only`).
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from oauthlib import oauth1  # type: ignore[import-untyped]
from oauthlib.oauth1.rfc5849 import signature, utils  # type: ignore[import-untyped]

from adapters.outbound.sns.texts import X_MAX_WEIGHT, x_weight
from tests.fakes.tls import LoopbackCA, make_ca

API_HOST = "api.twitter.com"
URL_IN_TEXT = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Credentials:
    consumer_key: str = "ck-anamizu"
    consumer_secret: str = "cs-anamizu"
    access_token: str = "at-anamizu"
    access_token_secret: str = "ats-anamizu"

    def as_dict(self) -> dict[str, str]:
        return {
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "access_token": self.access_token,
            "access_token_secret": self.access_token_secret,
        }


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    reason: str | None = None


@dataclass
class Tweet:
    id: str
    text: str
    in_reply_to: str | None
    deleted: bool = False


@dataclass
class _Script:
    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()
    after: int = 0  # requests to let through first


@dataclass
class FakeX:
    folder: Path
    credentials: Credentials = field(default_factory=Credentials)
    rate_limit: int = 200
    requests: list[Seen] = field(default_factory=list)
    tweets: dict[str, Tweet] = field(default_factory=dict)
    url: str = ""
    ca: LoopbackCA | None = None
    _script: deque[_Script] = field(default_factory=deque)
    # The prepaid balance in US dollars (None: not counted); what each post cost.
    credits: float | None = None
    spent: float = 0.0
    read_only: bool = False
    _remaining: int = 200
    _reset: int = 0
    _next_id: int = 1800000000000000000
    _runner: web.AppRunner | None = None

    # --- scripting -------------------------------------------------------------------------
    def rate_limit_next(self, reset_in: int = 120) -> None:
        reset = str(int(time.time()) + reset_in)
        self._script.append(
            _Script(
                429,
                {
                    "title": "Too Many Requests",
                    "detail": "Too Many Requests",
                    "type": "about:blank",
                    "status": 429,
                },
                (("x-rate-limit-remaining", "0"), ("x-rate-limit-reset", reset)),
            )
        )

    def usage_cap_next(self) -> None:
        self._script.append(
            _Script(
                429,
                {
                    "title": "UsageCapExceeded",
                    "detail": "Usage cap exceeded: Monthly product cap",
                    "type": "https://api.twitter.com/2/problems/usage-capped",
                    "period": "Monthly",
                    "scope": "Product",
                },
            )
        )

    def fail_next(self, status: int, detail: str = "scripted failure", *, after: int = 0) -> None:
        """Fail a coming request with `status`, after letting `after` requests through."""
        self._script.append(
            _Script(
                status,
                {"title": "Error", "detail": detail, "type": "about:blank", "status": status},
                after=after,
            )
        )

    def standing(self) -> list[Tweet]:
        return [t for t in self.tweets.values() if not t.deleted]

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> str:
        self.ca = self.ca or make_ca(self.folder)
        app = web.Application()
        app.router.add_post("/2/tweets", self._create)
        app.router.add_delete("/2/tweets/{id}", self._delete)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ca.server_context(API_HOST))
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"https://{host}:{port}"
        self._remaining, self._reset = self.rate_limit, int(time.time()) + 900
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
    def _signed(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("OAuth "):
            return False
        given = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(auth)}
        c = self.credentials
        if given.get("oauth_consumer_key") != c.consumer_key or given.get("oauth_token") != c.access_token:
            return False
        if given.get("oauth_signature_method") != "HMAC-SHA1":
            return False
        params = signature.collect_parameters(uri_query=request.query_string, headers={"Authorization": auth})
        uri = f"https://{request.headers.get('Host', API_HOST)}{request.path}"
        base = signature.signature_base_string(
            request.method, signature.base_string_uri(uri), signature.normalize_parameters(params)
        )
        client = oauth1.Client(
            c.consumer_key, client_secret=c.consumer_secret, resource_owner_secret=c.access_token_secret
        )
        expected = signature.sign_hmac_sha1_with_client(base, client)
        return bool(signature.safe_string_equals(expected, given.get("oauth_signature", "")))

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
        self.requests.append(Seen(request.method, request.path, dict(request.headers), body, status, reason))
        self._remaining = max(0, self._remaining - 1)
        limits = {
            "x-rate-limit-limit": str(self.rate_limit),
            "x-rate-limit-remaining": str(self._remaining),
            "x-rate-limit-reset": str(self._reset),
            **(headers or {}),
        }
        return web.json_response(payload, status=status, headers=limits)

    def _refusal(self, request: web.Request, body: Any) -> web.Response | None:
        if self._script and self._script[0].after > 0:
            self._script[0].after -= 1
        elif self._script:
            s = self._script.popleft()
            return self._answer(request, body, s.status, s.body, reason="scripted", headers=dict(s.headers))
        if not self._signed(request):
            return self._answer(
                request,
                body,
                401,
                {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
                reason="bad_signature",
            )
        return None

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._refusal(request, body)
        if refused is not None:
            return refused
        text = body.get("text", "")
        reply = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if not text or x_weight(text) > X_MAX_WEIGHT:
            return self._answer(
                request,
                body,
                400,
                {
                    "errors": [
                        {"message": "Tweet text is empty or too long", "parameters": {"text": [text[:20]]}}
                    ],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                },
                reason="too_long",
            )
        if self.read_only:
            return self._answer(
                request,
                body,
                403,
                {
                    "title": "Unsupported Authentication",
                    "detail": "Your client app is not configured with the appropriate oauth1 app permissions "
                    "for this endpoint.",
                    "type": "https://api.twitter.com/2/problems/oauth1-permissions",
                    "status": 403,
                },
                reason="read_only",
            )
        cost = 0.2 if URL_IN_TEXT.search(text) else 0.015
        if self.credits is not None and self.spent + cost > self.credits + 1e-9:
            return self._answer(
                request,
                body,
                402,
                {
                    "title": "CreditsDepleted",
                    "detail": "Your enrolled account does not have any credits to fulfill this request.",
                    "type": "https://api.x.com/2/problems/credits-depleted",
                    "status": 402,
                },
                reason="credits",
            )
        if reply is not None and (reply not in self.tweets or self.tweets[reply].deleted):
            return self._answer(
                request,
                body,
                403,
                {
                    "detail": "You attempted to reply to a Tweet that is deleted or not visible to you.",
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                },
                reason="reply_to_unknown",
            )
        if any(t.text == text for t in self.standing()):
            return self._answer(
                request,
                body,
                403,
                {
                    "detail": "You are not allowed to create a Tweet with duplicate content.",
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                },
                reason="duplicate",
            )
        self.spent += cost
        self._next_id += 1
        tweet = Tweet(str(self._next_id), text, reply)
        self.tweets[tweet.id] = tweet
        return self._answer(
            request, body, 201, {"data": {"id": tweet.id, "text": text, "edit_history_tweet_ids": [tweet.id]}}
        )

    async def _delete(self, request: web.Request) -> web.Response:
        refused = self._refusal(request, None)
        if refused is not None:
            return refused
        tweet = self.tweets.get(request.match_info["id"])
        if tweet is None or tweet.deleted:
            return self._answer(
                request,
                None,
                404,
                {"errors": [{"message": "No status found with that ID."}], "title": "Not Found Error"},
                reason="not_found",
            )
        tweet.deleted = True
        return self._answer(request, None, 200, {"data": {"deleted": True}})
