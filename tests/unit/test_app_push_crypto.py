"""Web Push's per-message work: the RFC 8291 encryption and the VAPID header cache (RFC 8292)."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.outbound.app_push import encrypt
from adapters.outbound.app_push.vapid import TOKEN_LIFETIME_S, VapidSigner, generate, load_private_key
from tests.fakes.webpush import decrypt, verify_vapid

PRIVATE, PUBLIC = generate()
FCM = "https://fcm.googleapis.com"
MOZILLA = "https://updates.push.services.mozilla.com"


def _subscriber() -> tuple[ec.EllipticCurvePrivateKey, bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return key, point, os.urandom(16)


def test_a_message_decrypts_with_the_subscribers_key_and_each_has_a_fresh_key_pair() -> None:
    key, point, auth = _subscriber()
    message = "【穴水町】川島地区に避難指示（警戒レベル4）を発令しました。".encode()
    bodies = [encrypt.encrypt(message, point, auth) for _ in range(3)]
    # The fake's decryption is written from the RFCs apart from the code under test.
    assert all(decrypt(b, key, auth) == message for b in bodies)
    # RFC 8291 §3.1: a new ephemeral key (the record header's key id) and salt for every message.
    assert len({b[21:86] for b in bodies}) == 3
    assert len({b[:16] for b in bodies}) == 3
    assert int.from_bytes(bodies[0][16:20], "big") == encrypt.RECORD_SIZE


def test_the_largest_message_fits_one_record_and_a_larger_one_is_refused() -> None:
    key, point, auth = _subscriber()
    assert decrypt(encrypt.encrypt(b"x" * 3993, point, auth), key, auth) == b"x" * 3993
    with pytest.raises(ValueError, match="record"):
        encrypt.encrypt(b"x" * 4080, point, auth)


def test_keys_no_encryption_can_use_are_refused() -> None:
    _, point, auth = _subscriber()
    with pytest.raises(ValueError, match="EC key"):
        encrypt.encrypt(b"m", b"\x04" + b"\x01" * 64, auth)  # not on the curve
    with pytest.raises(ValueError, match="16 bytes"):
        encrypt.encrypt(b"m", point, auth[:8])


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def test_the_vapid_header_is_signed_once_per_origin_and_refreshed_well_before_it_expires() -> None:
    clock = Clock()
    signer = VapidSigner(load_private_key(PRIVATE), "mailto:bousai@town.anamizu.jp", clock=clock)
    first = signer.header(FCM)
    # Ten thousand subscriptions at one push service: one signature.
    assert all(signer.header(FCM) == first for _ in range(100))
    claims = verify_vapid(first, FCM, clock.t)
    assert claims["exp"] == int(clock.t) + TOKEN_LIFETIME_S and claims["k"] == PUBLIC

    # Each push service gets a token with its own audience (a service refuses another's).
    other = signer.header(MOZILLA)
    assert other != first and verify_vapid(other, MOZILLA, clock.t)["aud"] == MOZILLA

    # Until half its lifetime the cached token is served; it is never handed out nearer its exp.
    clock.t += TOKEN_LIFETIME_S / 2 - 1
    assert signer.header(FCM) == first
    clock.t += 2
    renewed = signer.header(FCM)
    assert renewed != first
    assert verify_vapid(renewed, FCM, clock.t)["exp"] == int(clock.t) + TOKEN_LIFETIME_S
    # The other origin's token is renewed on its own schedule, from its own cache entry.
    assert verify_vapid(signer.header(MOZILLA), MOZILLA, clock.t)["exp"] > clock.t + TOKEN_LIFETIME_S / 2
