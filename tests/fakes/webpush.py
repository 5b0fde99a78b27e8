"""A fake Web Push service on loopback that checks every request as a strict push service would.

It holds each test subscriber's private key, so it *decrypts* every message (RFC 8291 over RFC
8188 aes128gcm, written here from the RFCs with `cryptography`, independently of the sender's
encryption module under test), verifies the VAPID JWT (RFC 8292: ES256 with the key in ``k``,
``aud`` = this origin, ``exp`` within 24 h, a ``sub``), and checks TTL, Urgency and Topic (RFC
8030). A request that fails a check gets 400/401/403 and is recorded with the reason.

With ``apple=True`` it also checks what Apple's push service checks of the token's ``sub``
(developer.apple.com, "Sending web push notifications in web apps and browsers": the subject must
be a URL or a mailto: it can use): a localhost, .local or dotless domain, a space or angle brackets
is answered 403 ``{"reason": "BadJwtToken"}``, as Apple does.

Subscriptions are made with `subscribe(name)`; tests script a subscription gone (410), unknown
(404), or failing for the next requests, and may add latency to every answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tests.fakes.loopback import Served, serve

URGENCIES = ("very-low", "low", "normal", "high")
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def decrypt(body: bytes, ua_private: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """RFC 8291 §3.4 and RFC 8188 §2 (one record): the plaintext of a push message body."""
    if len(body) < 21:
        raise ValueError("too short for an aes128gcm header")
    salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
    keyid, ciphertext = body[21 : 21 + idlen], body[21 + idlen :]
    if idlen != 65 or rs < 18:
        raise ValueError("the key id must be the 65-byte application server key")
    if len(ciphertext) > rs:
        raise ValueError("a push message is one record")
    as_public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), keyid)
    ua_public = ua_private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    ecdh = ua_private.exchange(ec.ECDH(), as_public)
    ikm = _hkdf(auth_secret, ecdh, b"WebPush: info\x00" + ua_public + keyid, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
    end = len(padded.rstrip(b"\x00"))
    if end == 0 or padded[end - 1] != 0x02:
        raise ValueError("the last record must end with the 0x02 delimiter")
    return padded[: end - 1]


def verify_vapid(header: str, origin: str, now: float) -> dict[str, Any]:
    """The JWT claims of a valid ``vapid t=..., k=...`` header; ValueError saying what is wrong."""
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError(f"scheme {scheme!r}, not vapid")
    values = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
    token, key = values.get("t"), values.get("k")
    if not token or not key:
        raise ValueError("t and k are required")
    head_b64, claims_b64, sig_b64 = token.split(".")
    head = json.loads(b64d(head_b64))
    if head.get("alg") != "ES256":
        raise ValueError(f"alg {head.get('alg')}")
    sig = b64d(sig_b64)
    if len(sig) != 64:
        raise ValueError("ES256 signatures are 64 bytes")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(key))
    try:
        public.verify(
            encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
            f"{head_b64}.{claims_b64}".encode(),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature as e:
        raise ValueError("bad signature") from e
    claims: dict[str, Any] = json.loads(b64d(claims_b64))
    if claims.get("aud") != origin:
        raise ValueError(f"aud {claims.get('aud')!r}, not {origin!r}")
    exp = int(claims.get("exp", 0))
    if not now < exp <= now + 24 * 3600:
        raise ValueError("exp must be in the next 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise ValueError("sub must be a mailto: or https: contact")
    claims["k"] = key
    return claims


_APPLE_SUB = re.compile(r"^(mailto:[^@\s<>]+@(?P<mail>[^@\s<>]+)|https://(?P<web>[^/:\s<>]+)(:\d+)?(/\S*)?)$")


def apple_accepts_subject(sub: str) -> bool:
    m = _APPLE_SUB.fullmatch(sub)
    if m is None:
        return False
    host = (m.group("mail") or m.group("web") or "").lower()
    return "." in host and not host.endswith((".local", ".localhost", ".localdomain")) and host not in (
        "127.0.0.1",
    )


@dataclass
class Subscriber:
    name: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    subscription: dict[str, Any]


@dataclass(frozen=True)
class Pushed:
    name: str
    status: int
    headers: dict[str, str]
    message: dict[str, Any] | None = None
    reason: str | None = None

    @property
    def ttl(self) -> int:
        return int(self.headers["ttl"])


@dataclass
class FakePushService(Served):
    latency: float = 0.0
    # Off in the benchmark, where the fake must not eat the core it measures.
    decrypt: bool = True
    # The benchmark's subscriptions are made up by the thousand: any name is a live subscription
    # (the payload is then not decrypted, since the fake does not hold its key).
    accept_unknown: bool = False
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    received: list[Pushed] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    vapid_public_key: str | None = None  # when set, only this key is accepted (403 otherwise)
    apple: bool = False
    counts: Counter[int] = field(default_factory=Counter)
    _script: dict[str, deque[tuple[int, str | None]]] = field(default_factory=dict)
    _verified: dict[str, dict[str, Any]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    base: str = ""

    def subscribe(self, name: str) -> dict[str, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        sub = {
            "endpoint": f"{self.base}/push/{name}",
            "expirationTime": None,
            "keys": {"p256dh": b64e(public), "auth": b64e(auth)},
        }
        self.subscribers[name] = Subscriber(name, key, auth, sub)
        return sub

    def fail_next(self, name: str, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        q = self._script.setdefault(name, deque())
        for _ in range(times):
            q.append((status, retry_after))

    def delivered(self, name: str | None = None) -> list[Pushed]:
        return [p for p in self.received if p.status == 201 and (name is None or p.name == name)]

    async def start(self) -> str:
        app = web.Application(client_max_size=8192)
        app.router.add_post("/push/{name}", self._push)
        self._runner, self.base = await serve(app)
        return self.base

    def _refuse(self, name: str, headers: dict[str, str], status: int, reason: str) -> web.Response:
        self.received.append(Pushed(name, status, headers, reason=reason))
        self.counts[status] += 1
        return web.Response(status=status, text=reason)

    async def _push(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        # Header names are case-insensitive: keep them lower-case.
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = await request.read()
        if self.latency:
            await asyncio.sleep(self.latency)
        script = self._script.get(name)
        if script:
            status, wait = script.popleft()
            self.received.append(Pushed(name, status, headers, reason="scripted"))
            self.counts[status] += 1
            return web.Response(status=status, headers={"Retry-After": wait} if wait else {})
        if name in self.gone:
            return self._refuse(name, headers, 410, "subscription expired")
        sub = self.subscribers.get(name)
        if sub is None and not self.accept_unknown:
            return self._refuse(name, headers, 404, "no such subscription")
        origin = f"{request.scheme}://{request.host}"
        auth = headers.get("authorization", "")
        claims = self._verified.get(auth)
        if claims is None or claims["exp"] <= time.time():
            try:
                claims = self._verified[auth] = verify_vapid(auth, origin, time.time())
            except (ValueError, KeyError) as e:
                return self._refuse(name, headers, 401, f"vapid: {e}")
        if self.apple and not apple_accepts_subject(str(claims.get("sub", ""))):
            self.received.append(Pushed(name, 403, headers, reason="BadJwtToken"))
            self.counts[403] += 1
            return web.json_response({"reason": "BadJwtToken"}, status=403)
        if self.vapid_public_key is not None and claims["k"] != self.vapid_public_key:
            return self._refuse(name, headers, 403, "not the key this subscription was made with")
        ttl = headers.get("ttl", "")
        if not ttl.isdigit():
            return self._refuse(name, headers, 400, "TTL is required")
        if headers.get("urgency", "normal") not in URGENCIES:
            return self._refuse(name, headers, 400, "bad Urgency")
        if "topic" in headers and not _TOPIC.fullmatch(headers["topic"]):
            return self._refuse(name, headers, 400, "bad Topic")
        if headers.get("content-encoding") != "aes128gcm":
            return self._refuse(name, headers, 400, "Content-Encoding must be aes128gcm")
        if len(body) > 4096:
            return self._refuse(name, headers, 413, "payload too large")
        message = None
        if self.decrypt and sub is not None:
            try:
                message = json.loads(decrypt(body, sub.private_key, sub.auth))
            except (ValueError, InvalidTag) as e:
                return self._refuse(name, headers, 400, f"cannot decrypt: {type(e).__name__} {e}")
        self.received.append(Pushed(name, 201, headers, message))
        self.counts[201] += 1
        return web.Response(status=201, headers={"Location": f"{self.base}/message/{len(self.received)}"})
