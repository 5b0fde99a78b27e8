"""Each leader's personal link to a circular: signed, expiring, revocable; no password.

A token is ``<delivery id>.<link version>.<expiry, unix seconds>.<mac>`` where the mac is
HMAC-SHA256 over the rest under the deployment's link key, cut to 128 bits and written in
base64url. The delivery id names one circular for one person; the version is the delivery's
current ``link_version`` (revoking a link bumps it, so every older link stops working); the expiry
bounds a link that was forwarded or left in a chat history. The mac is checked before the ledger
is ever asked, so guessing costs nothing but the guesser's time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

_DOMAIN = b"broadcaster-circular-link\x1f"
_SHAPE = re.compile(r"^([0-9a-f]{32})\.([1-9][0-9]{0,8})\.([0-9]{9,11})\.([A-Za-z0-9_-]{22})$")


class LinkError(Exception):
    """Why a link does not open: `reason` is malformed, forged, expired or revoked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Link:
    delivery_id: str
    version: int
    expires: datetime


def _mac(key: SecretStr, payload: str) -> str:
    digest = hmac.new(key.get_secret_value().encode("utf-8"), _DOMAIN + payload.encode("ascii"), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:16]).rstrip(b"=").decode("ascii")


class LinkSigner:
    def __init__(self, key: SecretStr, old_keys: tuple[SecretStr, ...] = (), lifetime: timedelta = timedelta(days=14)) -> None:
        self.key = key
        # Verification also accepts the keys of before a rotation, until their links expire.
        self.keys = (key, *old_keys)
        self.lifetime = lifetime

    def token(self, delivery_id: str, version: int, issued: datetime) -> str:
        expires = int((issued + self.lifetime).timestamp())
        payload = f"{delivery_id}.{version}.{expires}"
        return f"{payload}.{_mac(self.key, payload)}"

    def verify(self, token: str, at: datetime) -> Link:
        """The link a token stands for; LinkError when it is malformed, forged or expired.

        Revocation is the caller's to check: the ledger knows the delivery's current version.
        """
        m = _SHAPE.match(token)
        if m is None:
            raise LinkError("malformed")
        delivery_id, version, expires, mac = m.groups()
        payload = f"{delivery_id}.{version}.{expires}"
        if not any(hmac.compare_digest(_mac(k, payload), mac) for k in self.keys):
            raise LinkError("forged")
        until = datetime.fromtimestamp(int(expires), UTC)
        if until <= at:
            raise LinkError("expired")
        return Link(delivery_id, int(version), until)


def link_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/c/{token}"
