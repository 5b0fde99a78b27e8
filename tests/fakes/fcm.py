"""A fake Google OAuth token endpoint and FCM HTTP v1 send endpoint on loopback.

The token endpoint checks the JWT bearer grant as Google does (RS256 signature with the service
account's public key, iss, scope, aud = the token URL, at most an hour of validity) and issues
access tokens, at most `grant_limit` a minute (Google's token endpoint answers 429 beyond its
rate). The send endpoint checks the bearer token and the v1 message's shape (a token,
string-only data, the Android TTL format), knows which registration tokens exist, and answers
the v1 error bodies as the ErrorCode reference documents them
(firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode):

* 401 UNAUTHENTICATED without an FcmError for an access token it did not issue or revoked (the
  OAuth failure: a new token helps);
* 401 with FcmError THIRD_PARTY_AUTH_ERROR for an iOS device while the project's APNs key is
  broken (`apns_broken`): a per-message failure that no OAuth token fixes;
* 403 SENDER_ID_MISMATCH for a token registered to another sender (`other_sender`);
* 404 UNREGISTERED for an unknown token, 400 INVALID_ARGUMENT for a malformed one;
* scripted 429 QUOTA_EXCEEDED and 503 UNAVAILABLE, with Retry-After when the test gives one.

Topic messaging (firebase.google.com/docs/cloud-messaging/topic-messaging and send/v1-api): a
message names exactly one target, `token`, `topic` (with or without "/topics/") or `condition`
(up to five topics joined by &&, || and parentheses, each `'name' in topics`); anything else is
400 INVALID_ARGUMENT blaming the message's field. A topic name must match [a-zA-Z0-9-_.~%]+. A
topic message is accepted (200 and a message name) even when nobody is subscribed, and fanned out
to every registered device subscribed (`subscribe`), each device getting it once. A fan-out is not
instantaneous (`fanout_s`); a project has at most `max_fanouts` in progress, beyond which the fake
refuses with 429 QUOTA_EXCEEDED. The downstream quota is per minute, counted in messages
(`quota_per_minute`): over it, 429 QUOTA_EXCEEDED with Retry-After until the minute's window
refills. Each answer can be delayed by `latency` seconds, as a far service answers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.loopback import Served, serve

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
TOPIC_NAME = re.compile(r"[a-zA-Z0-9_.~%-]+")
_CONDITION_TOKEN = re.compile(r"\s*(?:(&&|\|\||\(|\))|'([a-zA-Z0-9_.~%-]+)'\s+in\s+topics)")


def condition_topics(condition: str) -> tuple[list[str], list[str]]:
    """The condition's tokens ("&&", "||", "(", ")", or "T" for a topic) and its topics; ValueError
    for anything FCM's condition grammar does not take, or more than five topics."""
    tokens: list[str] = []
    topics: list[str] = []
    pos = 0
    text = condition.rstrip()
    while pos < len(text):
        m = _CONDITION_TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"bad condition at {pos}")
        if m.group(1):
            tokens.append(m.group(1))
        else:
            tokens.append("T")
            topics.append(m.group(2))
        pos = m.end()
    if not topics or len(topics) > 5:
        raise ValueError("a condition names one to five topics")
    return tokens, topics


def condition_holds(condition: str, subscribed: set[str]) -> bool:
    """Whether a device subscribed to `subscribed` matches the condition (&& binds tighter)."""
    tokens, topics = condition_topics(condition)
    names = iter(topics)
    values = [t if t != "T" else ("1" if next(names) in subscribed else "0") for t in tokens]
    pos = 0

    def expr() -> bool:
        nonlocal pos
        value = term()
        while pos < len(values) and values[pos] == "||":
            pos += 1
            value = term() or value
        return value

    def term() -> bool:
        nonlocal pos
        value = atom()
        while pos < len(values) and values[pos] == "&&":
            pos += 1
            value = atom() and value
        return value

    def atom() -> bool:
        nonlocal pos
        if pos >= len(values):
            raise ValueError("condition ends early")
        v = values[pos]
        pos += 1
        if v == "(":
            inner = expr()
            if pos >= len(values) or values[pos] != ")":
                raise ValueError("unbalanced parentheses")
            pos += 1
            return inner
        if v in ("0", "1"):
            return v == "1"
        raise ValueError(f"unexpected {v!r}")

    result = expr()
    if pos != len(values):
        raise ValueError("trailing tokens")
    return result


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def service_account(project: str = "anamizu-app") -> tuple[dict[str, Any], rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    account = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": f"broadcaster@{project}.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return account, key.public_key()


def _error(
    status: int, code: str, message: str, fcm_code: str | None = None, bad_field: str | None = None
) -> web.Response:
    details: list[dict[str, Any]] = []
    if fcm_code:
        details.append(
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
        )
    if bad_field:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": bad_field}]}
        )
    body = {"error": {"code": status, "message": message, "status": code, "details": details}}
    return web.json_response(body, status=status)


@dataclass
class FakeFcm(Served):
    email: str
    public_key: rsa.RSAPublicKey
    project: str = "anamizu-app"
    token_lifetime: int = 3600
    devices: set[str] = field(default_factory=set)
    ios_devices: set[str] = field(default_factory=set)
    other_sender: set[str] = field(default_factory=set)
    apns_broken: bool = False
    grant_limit: int = 1000
    token_requests: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    grants: int = 0
    # Topic messaging: who is subscribed to what, what each device got by fan-out, the limits.
    subscriptions: dict[str, set[str]] = field(default_factory=dict)
    fanned: Counter[str] = field(default_factory=Counter)
    fanned_messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    keep_fanned_messages: bool = True
    fanout_s: float = 0.0
    max_fanouts: int = 1000
    quota_per_minute: int = 600_000
    latency: float = 0.0
    requests: int = 0
    _fanouts: int = 0
    _window: deque[float] = field(default_factory=deque)
    _tokens: set[str] = field(default_factory=set)
    _pending: set[asyncio.Task[None]] = field(default_factory=set)
    _by_topic: dict[str, set[str]] = field(default_factory=dict)
    _script: dict[str, deque[tuple[int, str | None]]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    base: str = ""

    @property
    def token_url(self) -> str:
        return f"{self.base}/token"

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    def fail_next(self, device: str, status: int, retry_after: str | None = None) -> None:
        self._script.setdefault(device, deque()).append((status, retry_after))

    def subscribe(self, device: str, *topics: str) -> None:
        """What the app's subscribeToTopic (or the Instance ID batchAdd) does."""
        self.subscriptions.setdefault(device, set()).update(topics)
        for topic in topics:
            self._by_topic.setdefault(topic, set()).add(device)

    def delivered(self, device: str | None = None) -> list[dict[str, Any]]:
        """Messages sent to a device's token; with a device, those fanned out to it as well."""
        if device is None:
            return [m for m in self.sent if "token" in m]
        return [m for m in self.sent if m.get("token") == device] + [
            m for d, m in self.fanned_messages if d == device
        ]

    async def fanned_out(self) -> None:
        """Wait until every topic message accepted so far has reached its devices."""
        while self._pending:
            await asyncio.gather(*list(self._pending))

    def _fan_out(self, message: dict[str, Any]) -> None:
        topic = message.get("topic")
        if topic is not None:
            followers = self._by_topic.get(topic.removeprefix("/topics/"), set())
        else:
            followers = {d for d, ts in self.subscriptions.items() if condition_holds(message["condition"], ts)}
        for device in sorted(followers):
            if device not in self.devices:
                continue  # an app instance gone since it subscribed: FCM drops it quietly
            self.fanned[device] += 1
            if self.keep_fanned_messages:
                self.fanned_messages.append((device, message))

    async def _fanning(self, message: dict[str, Any]) -> None:
        try:
            if self.fanout_s:
                await asyncio.sleep(self.fanout_s)
            self._fan_out(message)
        finally:
            self._fanouts -= 1

    def _over_quota(self) -> float | None:
        """Seconds until the minute's window has room again, when the quota is used up."""
        now = time.monotonic()
        while self._window and self._window[0] <= now - 60:
            self._window.popleft()
        if len(self._window) >= self.quota_per_minute:
            return max(1.0, 60 - (now - self._window[0]))
        self._window.append(now)
        return None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{project}/messages:send", self._send)
        self._runner, self.base = await serve(app)
        return self.base

    async def _token(self, request: web.Request) -> web.StreamResponse:
        self.token_requests += 1
        if self.token_requests > self.grant_limit:
            return web.json_response(
                {"error": "rate_limit_exceeded", "error_description": "Rate limit exceeded"}, status=429
            )
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            head_b64, claims_b64, sig_b64 = str(form.get("assertion", "")).split(".")
            head = json.loads(b64d(head_b64))
            claims = json.loads(b64d(claims_b64))
            self.public_key.verify(
                b64d(sig_b64), f"{head_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (ValueError, InvalidSignature):
            return web.json_response(
                {"error": "invalid_grant", "error_description": "bad assertion"}, status=400
            )
        now = time.time()
        ok = (
            head.get("alg") == "RS256"
            and claims.get("iss") == self.email
            and claims.get("scope") == SCOPE
            and claims.get("aud") == self.token_url
            and claims["iat"] - 60 <= now <= claims["exp"]
            and claims["exp"] - claims["iat"] <= 3600
        )
        if not ok:
            return web.json_response({"error": "invalid_grant", "error_description": "claims"}, status=400)
        self.grants += 1
        token = f"ya29.fake-{self.grants}"
        self._tokens.add(token)
        return web.json_response(
            {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    async def _send(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self._tokens:
            self.refused.append((401, "token"))
            return _error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                "cookie or other valid authentication credential.",
            )
        if request.match_info["project"] != self.project:
            return _error(403, "PERMISSION_DENIED", "Permission denied on the project")
        try:
            message = (await request.json())["message"]
            targets = [k for k in ("token", "topic", "condition") if k in message]
            if len(targets) != 1 or not isinstance(message[targets[0]], str):
                return _error(400, "INVALID_ARGUMENT", "Exactly one of token, topic or condition", bad_field="message")
            if targets[0] == "topic" and not TOPIC_NAME.fullmatch(message["topic"].removeprefix("/topics/")):
                return _error(400, "INVALID_ARGUMENT", "Invalid topic name", bad_field="message.topic")
            if targets[0] == "condition":
                try:
                    condition_topics(message["condition"])
                except ValueError:
                    return _error(400, "INVALID_ARGUMENT", "Invalid condition", bad_field="message.condition")
            device = message[targets[0]]
            assert all(isinstance(v, str) for v in message.get("data", {}).values())
            assert re.fullmatch(r"\d+s", message["android"]["ttl"])
            assert message["android"]["priority"] in ("HIGH", "NORMAL")
            assert message["apns"]["headers"]["apns-priority"] in ("10", "5")
            assert message["notification"]["title"]
        except (ValueError, KeyError, AssertionError, TypeError):
            return _error(400, "INVALID_ARGUMENT", "Invalid message", bad_field="message")
        script = self._script.get(device)
        if script:
            status, wait = script.popleft()
            self.refused.append((status, device))
            if status >= 500:
                answer = _error(status, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")
            else:
                answer = _error(
                    status, "RESOURCE_EXHAUSTED", "Quota exceeded for this device.", "QUOTA_EXCEEDED"
                )
            if wait is not None:
                answer.headers["Retry-After"] = wait
            return answer
        refill = self._over_quota()
        if refill is not None:
            self.refused.append((429, device))
            answer = _error(
                429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Messages'", "QUOTA_EXCEEDED"
            )
            answer.headers["Retry-After"] = str(int(refill + 0.999))
            return answer
        if "token" not in message:
            if self._fanouts >= self.max_fanouts:
                self.refused.append((429, device))
                return _error(
                    429, "RESOURCE_EXHAUSTED", "Too many topic fan-outs in progress", "QUOTA_EXCEEDED"
                )
            self._fanouts += 1
            self.sent.append(message)
            task = asyncio.get_running_loop().create_task(self._fanning(message))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            return web.json_response({"name": f"projects/{self.project}/messages/{len(self.sent)}"})
        if device in self.ios_devices and self.apns_broken:
            self.refused.append((401, device))
            return _error(
                401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service", "THIRD_PARTY_AUTH_ERROR"
            )
        if device in self.other_sender:
            self.refused.append((403, device))
            return _error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
        if not re.fullmatch(r"[A-Za-z0-9_:-]{8,}", device):
            self.refused.append((400, device))
            return _error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            )
        if device not in self.devices:
            self.refused.append((404, device))
            return _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        self.sent.append(message)
        return web.json_response({"name": f"projects/{self.project}/messages/{len(self.sent)}"})
