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
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.loopback import Served, serve

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


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
    _tokens: set[str] = field(default_factory=set)
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

    def delivered(self, device: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.sent if device is None or m["token"] == device]

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
            device = message["token"]
            assert isinstance(device, str)
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
