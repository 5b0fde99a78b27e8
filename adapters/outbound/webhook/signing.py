"""Signatures of the webhook channel: HMAC-SHA256 over the timestamp and the body.

    X-Broadcaster-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

The timestamp is inside the signed text, so a receiver that rejects timestamps older than a few
minutes and remembers the Idempotency-Keys (or signatures) it saw within that window cannot be
replayed. `verify` is what a receiver written in Python runs; docs/webhook.md shows the same in
other words.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Broadcaster-Signature"
TOLERANCE_S = 300


class InvalidSignature(ValueError):
    pass


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def header(secret: bytes, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(secret: bytes, value: str, body: bytes, *, now: float, tolerance: float = TOLERANCE_S) -> int:
    """The signed timestamp if `value` signs `body` with `secret` and is fresh; else InvalidSignature."""
    fields: dict[str, list[str]] = {}
    for part in value.split(","):
        k, sep, v = part.strip().partition("=")
        if sep:
            fields.setdefault(k, []).append(v)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError) as e:
        raise InvalidSignature("no timestamp") from e
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance (a replay, or a wrong clock)")
    expected = sign(secret, timestamp, body)
    # Several v1 values are allowed, so that a sender can sign with an old and a new secret while
    # they are being changed.
    if not any(hmac.compare_digest(expected, given) for given in fields.get("v1", [])):
        raise InvalidSignature("signature does not match")
    return timestamp
