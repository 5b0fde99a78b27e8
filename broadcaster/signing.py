"""Signed requests of sources that push to us (the J-Alert bridge, an L-Alert relay).

One scheme for every ingest hook, so that the bridge, a relay written by another vendor and the
endpoint agree on one page of documentation (docs/jalert.md, *Signing*). The sender holds a key
id and a secret shared with the broadcaster; each request carries

    X-Broadcaster-Key        the key id
    X-Broadcaster-Timestamp  Unix time in whole seconds when the request was signed
    X-Broadcaster-Nonce      16-128 characters [A-Za-z0-9._:-], never used twice
    X-Broadcaster-Signature  v1=<hex HMAC-SHA256(secret, string to sign)>

and the string to sign is these lines joined by "\\n" (no trailing newline):

    BROADCASTER-HMAC-SHA256
    <key id>
    <timestamp>
    <nonce>
    <METHOD>
    <path, without query>
    <hex SHA-256 of the body>

The method and path bind a signature to one endpoint (a request signed for one town's L-Alert
hook is no good at another's); the timestamp bounds how long a captured request stays useful, and
the nonce, remembered by the receiver for longer than that, makes it useless at once.

Pure: no I/O. The receiver's nonce memory is broadcaster/store/nonces.py.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SCHEME = "BROADCASTER-HMAC-SHA256"
VERSION = "v1"
H_KEY = "X-Broadcaster-Key"
H_TIMESTAMP = "X-Broadcaster-Timestamp"
H_NONCE = "X-Broadcaster-Nonce"
H_SIGNATURE = "X-Broadcaster-Signature"

NONCE = re.compile(r"^[A-Za-z0-9._:-]{16,128}$")
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A secret shorter than this is guessable offline from one captured request.
MIN_SECRET_BYTES = 32


class SignatureRefused(Exception):
    """The request is not signed as the scheme requires; `reason` is a short code for logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verified:
    key_id: str
    timestamp: int
    nonce: str


def string_to_sign(key_id: str, timestamp: int, nonce: str, method: str, path: str, body: bytes) -> bytes:
    lines = (SCHEME, key_id, str(timestamp), nonce, method.upper(), path, hashlib.sha256(body).hexdigest())
    return "\n".join(lines).encode("utf-8")


def signature(secret: bytes, key_id: str, timestamp: int, nonce: str, method: str, path: str, body: bytes) -> str:
    mac = hmac.new(secret, string_to_sign(key_id, timestamp, nonce, method, path, body), hashlib.sha256)
    return f"{VERSION}={mac.hexdigest()}"


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def sign(
    secret: bytes,
    key_id: str,
    method: str,
    path: str,
    body: bytes,
    *,
    timestamp: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers of a signed request."""
    nonce = nonce or new_nonce()
    if not NONCE.match(nonce):
        raise ValueError(f"nonce {nonce!r} does not match {NONCE.pattern}")
    return {
        H_KEY: key_id,
        H_TIMESTAMP: str(timestamp),
        H_NONCE: nonce,
        H_SIGNATURE: signature(secret, key_id, timestamp, nonce, method, path, body),
    }


# Compared against when the key id is unknown, so that an unknown key costs the same time as a
# wrong signature and the answer is the same.
_DUMMY_SECRET = secrets.token_bytes(MIN_SECRET_BYTES)


def verify(
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    *,
    secret_of: Callable[[str], bytes | None],
    now: float,
    max_skew_s: float,
) -> Verified:
    """The key, time and nonce of a correctly signed, fresh request; SignatureRefused otherwise.

    Whether the nonce was seen before is the caller's question (it needs storage).
    """
    key_id = headers.get(H_KEY, "")
    stamp = headers.get(H_TIMESTAMP, "")
    nonce = headers.get(H_NONCE, "")
    given = headers.get(H_SIGNATURE, "")
    if not (key_id and stamp and nonce and given):
        raise SignatureRefused("unsigned")
    if not KEY_ID.match(key_id) or not NONCE.match(nonce) or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureRefused("malformed_signature_headers")
    timestamp = int(stamp)
    secret = secret_of(key_id)
    expected = signature(secret or _DUMMY_SECRET, key_id, timestamp, nonce, method, path, body)
    if not hmac.compare_digest(expected.encode(), given.strip().encode()) or secret is None:
        raise SignatureRefused("bad_signature")
    # Checked after the signature, so that a stale answer never tells an outsider anything.
    if abs(now - timestamp) > max_skew_s:
        raise SignatureRefused("stale_timestamp")
    return Verified(key_id, timestamp, nonce)
