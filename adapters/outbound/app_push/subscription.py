"""A browser's PushSubscription, checked strictly before it is stored or sent to. Pure.

A subscription is what `PushSubscription.toJSON()` gives in the resident's browser: the push
service's endpoint URL and the two keys of RFC 8291 (the browser's P-256 public key ``p256dh``
and the 16-byte ``auth`` secret). The broadcaster POSTs to that URL, so a forged one could make it
call any address: the endpoint must be HTTPS on a known push service's host (options
``allowed_hosts``; tests and private push services add theirs).

The stored address is the canonical JSON below, so that the same subscription is the same
address (and the same address hash) however the browser spelled it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

# Push services of the browsers residents use (Chrome/Edge/Android via FCM, Firefox, Safari,
# Windows). "*." matches any subdomain.
DEFAULT_PUSH_HOSTS: tuple[str, ...] = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "*.push.services.mozilla.com",
    "web.push.apple.com",
    "*.push.apple.com",
    "*.notify.windows.com",
)
MAX_ENDPOINT = 2048
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


class InvalidSubscription(ValueError):
    pass


class HostNotAllowed(InvalidSubscription):
    """Well-formed, but for a push service the settings do not allow (not pruned: settings change)."""


@dataclass(frozen=True)
class HostPolicy:
    hosts: tuple[str, ...] = DEFAULT_PUSH_HOSTS
    # Plain http only for a push service on loopback (tests, a local relay).
    allow_http: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HostPolicy:
        hosts = options.get("allowed_hosts")
        extra = options.get("extra_hosts") or ()
        base = tuple(str(h).lower() for h in hosts) if hosts is not None else DEFAULT_PUSH_HOSTS
        return cls(
            hosts=base + tuple(str(h).lower() for h in extra),
            allow_http=bool(options.get("allow_http", False)),
        )

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for pattern in self.hosts:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]) and host != pattern[2:]:
                    return True
            elif host == pattern:
                return True
        return False


@dataclass(frozen=True)
class Subscription:
    endpoint: str
    p256dh: str
    auth: str

    def canonical(self) -> str:
        return json.dumps(
            {"endpoint": self.endpoint, "keys": {"auth": self.auth, "p256dh": self.p256dh}},
            sort_keys=True,
            separators=(",", ":"),
        )

    @cached_property
    def origin(self) -> str:
        """The push service's origin, the VAPID token's audience (computed once: asked per message)."""
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc}"


def b64url_decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise InvalidSubscription("not base64url")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as e:
        raise InvalidSubscription("not base64url") from e


def _endpoint(value: Any, policy: HostPolicy) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ENDPOINT:
        raise InvalidSubscription("endpoint must be a URL of at most 2048 characters")
    # Printable ASCII without the space (0x21-0x7E), checked in C: it runs for every stored
    # address of every batch.
    if not (value.isascii() and value.isprintable()) or " " in value:
        raise InvalidSubscription("endpoint has characters a URL cannot have")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http"):
        raise InvalidSubscription("endpoint must be https")
    if parts.username or parts.password or parts.fragment or not parts.hostname:
        raise InvalidSubscription("endpoint must be a plain https URL")
    if parts.scheme == "http" and not policy.allow_http:
        # Policy, not form: a setting may allow it (a local relay), so it is refused, not pruned.
        raise HostNotAllowed("endpoint must be https")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as e:
        raise InvalidSubscription("endpoint has a malformed port") from e
    if not policy.allows(parts.hostname):
        raise HostNotAllowed(f"endpoint host {parts.hostname} is not a known push service")
    return value


def parse_subscription(data: Any, policy: HostPolicy, *, check_point: bool = True) -> Subscription:
    """The subscription in `data` (a dict as JSON gives it), or InvalidSubscription saying why.

    `check_point=False` skips proving that p256dh lies on the curve (a third of the cost): for
    addresses read back from the store, which were proven at sign-up; the encryption refuses a
    bad point anyway.
    """
    if not isinstance(data, dict):
        raise InvalidSubscription("a subscription is a JSON object")
    unknown = set(data) - {"endpoint", "keys", "expirationTime"}
    if unknown:
        raise InvalidSubscription(f"unknown fields: {', '.join(sorted(unknown))}")
    expiration = data.get("expirationTime")
    if expiration is not None and (isinstance(expiration, bool) or not isinstance(expiration, int | float)):
        raise InvalidSubscription("expirationTime must be null or a number")
    endpoint = _endpoint(data.get("endpoint"), policy)
    keys = data.get("keys")
    if not isinstance(keys, dict) or set(keys) != {"p256dh", "auth"}:
        raise InvalidSubscription("keys must hold exactly p256dh and auth")
    p256dh, auth = keys["p256dh"], keys["auth"]
    if not isinstance(p256dh, str) or not isinstance(auth, str) or len(p256dh) > 100 or len(auth) > 40:
        raise InvalidSubscription("keys must be base64url strings")
    point = b64url_decode(p256dh)
    if len(point) != 65 or point[0] != 0x04:
        raise InvalidSubscription("p256dh must be an uncompressed P-256 point (65 bytes)")
    if check_point:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except ValueError as e:
            raise InvalidSubscription("p256dh is not a point on P-256") from e
    if len(b64url_decode(auth)) != 16:
        raise InvalidSubscription("auth must be 16 bytes")
    return Subscription(endpoint=endpoint, p256dh=p256dh.rstrip("="), auth=auth.rstrip("="))


def parse_address(address: str, policy: HostPolicy) -> Subscription:
    """A stored address (the canonical JSON) back into a subscription."""
    try:
        data = json.loads(address)
    except ValueError as e:
        raise InvalidSubscription("the stored address is not JSON") from e
    return parse_subscription(data, policy, check_point=False)


@dataclass
class Parsed:
    good: list[tuple[str, Subscription]]
    broken: list[str]  # can never work: pruned
    refused: list[str]  # a host the settings do not allow: skipped, kept


def parse_all(addresses: Sequence[str], policy: HostPolicy) -> Parsed:
    out = Parsed([], [], [])
    for a in addresses:
        try:
            out.good.append((a, parse_address(a, policy)))
        except HostNotAllowed:
            out.refused.append(a)
        except InvalidSubscription:
            out.broken.append(a)
    return out
