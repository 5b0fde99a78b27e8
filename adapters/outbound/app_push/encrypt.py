"""Message encryption for Web Push (RFC 8291) in the aes128gcm content coding (RFC 8188).

Each message gets a fresh P-256 key pair and a fresh salt, as RFC 8291 §3.1 requires; that ECDH
is the one cost a message cannot share. The rest is written straight against the RFCs so that a
message costs one key generation, one ECDH, four HMAC-SHA-256 and one AES-GCM and nothing more
(the general-purpose library this replaced spent as much again on copying and re-checking what the
subscription parser had already checked; docs/benchmarks.md has the figures).
"""

from __future__ import annotations

import hmac
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# RFC 8188 record size: one record holds the whole message. 4096 is what push services accept
# and leaves room for the 4 KiB payload limit (RFC 8291 §4: 3993 bytes of plaintext).
RECORD_SIZE = 4096
_TAG = 16
_KEY_INFO = b"WebPush: info\x00"
_CEK_INFO = b"Content-Encoding: aes128gcm\x00\x01"
_NONCE_INFO = b"Content-Encoding: nonce\x00\x01"
_CURVE = ec.SECP256R1()


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.digest(key, msg, "sha256")


def encrypt(plaintext: bytes, ua_public: bytes, auth_secret: bytes, *, salt: bytes | None = None) -> bytes:
    """The body of one push message for the subscription with public key `ua_public` (the 65-byte
    uncompressed point of ``keys.p256dh``) and `auth_secret` (``keys.auth``, 16 bytes).

    ValueError when the keys cannot be used (not a point on P-256, a wrong-sized secret) or the
    message does not fit one record.
    """
    if len(auth_secret) != 16:
        raise ValueError("auth secret must be 16 bytes")
    if len(plaintext) + 1 + _TAG > RECORD_SIZE:
        raise ValueError(f"{len(plaintext)} bytes do not fit one {RECORD_SIZE}-byte record")
    peer = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, ua_public)
    ephemeral = ec.generate_private_key(_CURVE)
    as_public = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    shared = ephemeral.exchange(ec.ECDH(), peer)
    # RFC 8291 §3.3-3.4: HKDF with single-block expands (32, 16 and 12 bytes), so each expand is
    # one HMAC over info || 0x01.
    ikm = _hmac(_hmac(auth_secret, shared), _KEY_INFO + ua_public + as_public + b"\x01")
    salt = os.urandom(16) if salt is None else salt
    prk = _hmac(salt, ikm)
    cek = _hmac(prk, _CEK_INFO)[:16]
    nonce = _hmac(prk, _NONCE_INFO)[:12]
    # RFC 8188 §2: the last (here the only) record ends with the 0x02 delimiter, no padding.
    ciphertext = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)
    header = salt + RECORD_SIZE.to_bytes(4, "big") + bytes((len(as_public),)) + as_public
    return header + ciphertext


def throwaway_public_key() -> bytes:
    """A fresh P-256 public key (uncompressed point) that nobody holds the private key of: what
    the warm-up encrypts for."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
