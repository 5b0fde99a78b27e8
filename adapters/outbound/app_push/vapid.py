"""VAPID (RFC 8292): the town's push identity. One P-256 key pair per deployment or per town.

The private key is a credential (``credentials.vapid_private_key``): the 32-byte scalar in
base64url, as ``broadcaster vapid generate`` prints it, or a PEM. Its public key is the
``applicationServerKey`` the PWA subscribes with; a subscription made with one key cannot be
pushed to with another, so a key is made once and kept.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from broadcaster.errors import ConfigError

# RFC 8292 allows at most 24 h; a push service may refuse more. Re-signed at half-life.
TOKEN_LIFETIME_S = 12 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            if len(raw) != 32:
                raise ValueError(f"{len(raw)} bytes, not 32")
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError as e:
        raise ConfigError(f"vapid_private_key is not a P-256 private key: {e}") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError("vapid_private_key must be a P-256 (prime256v1) key")
    return key


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The applicationServerKey: the uncompressed public point, base64url."""
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def generate() -> tuple[str, str]:
    """A new key pair as (private base64url, public base64url)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big")), public_key_b64(key)


class VapidSigner:
    """The Authorization header for a push service: ``vapid t=<JWT>, k=<public key>``.

    One token per push service origin (the JWT's ``aud``), reused until half its lifetime: signing
    ES256 for each of ten thousand subscriptions would cost more than the encryption.
    """

    def __init__(
        self, key: ec.EllipticCurvePrivateKey, subject: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._vapid = Vapid02(private_key=key)
        self.subject = subject
        self.public_key = public_key_b64(key)
        self.clock = clock
        self._cache: dict[str, tuple[float, str]] = {}

    def header(self, origin: str) -> str:
        now = self.clock()
        cached = self._cache.get(origin)
        if cached is not None and cached[0] - now > TOKEN_LIFETIME_S / 2:
            return cached[1]
        exp = int(now) + TOKEN_LIFETIME_S
        try:
            signed = self._vapid.sign({"aud": origin, "exp": exp, "sub": self.subject})
        except Exception as e:  # py_vapid raises its own exception for a bad subject or audience
            raise ConfigError(f"VAPID cannot sign for {origin}: {e}") from e
        value = str(signed["Authorization"])
        self._cache[origin] = (float(exp), value)
        return value
