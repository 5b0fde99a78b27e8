"""The signature scheme of the ingest hooks: what passes, and every way a request fails."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.signing import (
    H_KEY,
    H_NONCE,
    H_SIGNATURE,
    H_TIMESTAMP,
    SignatureRefused,
    sign,
    string_to_sign,
    verify,
)

SECRET = b"s" * 40
NOW = 1_752_100_000


def _verify(headers: dict[str, str], body: bytes = b"body", *, path: str = "/ingest/jalert", now: float = NOW) -> str:
    try:
        verify(headers, "POST", path, body, secret_of={"rx": SECRET}.get, now=now, max_skew_s=300)
    except SignatureRefused as e:
        return e.reason
    return "ok"


def _signed(body: bytes = b"body") -> dict[str, str]:
    return sign(SECRET, "rx", "POST", "/ingest/jalert", body, timestamp=NOW, nonce="n" * 20)


def test_the_string_to_sign_is_the_documented_one() -> None:
    assert string_to_sign("rx", 1, "abc", "post", "/p", b"") == (
        b"BROADCASTER-HMAC-SHA256\nrx\n1\nabc\nPOST\n/p\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_a_signed_fresh_request_passes() -> None:
    assert _verify(_signed()) == "ok"
    assert _verify(_signed(), now=NOW + 299) == "ok"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: h.pop(H_SIGNATURE), "unsigned"),
        (lambda h: h.pop(H_NONCE), "unsigned"),
        (lambda h: h.update({H_KEY: "someone-else"}), "bad_signature"),
        (lambda h: h.update({H_KEY: "bad key!"}), "malformed_signature_headers"),
        (lambda h: h.update({H_NONCE: "short"}), "malformed_signature_headers"),
        (lambda h: h.update({H_TIMESTAMP: str(NOW + 1)}), "bad_signature"),
        (lambda h: h.update({H_TIMESTAMP: "yesterday"}), "malformed_signature_headers"),
        (lambda h: h.update({H_SIGNATURE: "v1=" + "0" * 64}), "bad_signature"),
    ],
)
def test_tampered_or_incomplete_headers_are_refused(change: object, reason: str) -> None:
    headers = _signed()
    change(headers)  # type: ignore[operator]
    assert _verify(headers) == reason


def test_the_signature_binds_body_and_path() -> None:
    assert _verify(_signed(), b"bodY") == "bad_signature"
    assert _verify(_signed(), path="/ingest/lalert/anamizu") == "bad_signature"


def test_a_stale_or_future_timestamp_is_refused_even_when_signed() -> None:
    assert _verify(_signed(), now=NOW + 301) == "stale_timestamp"
    assert _verify(_signed(), now=NOW - 301) == "stale_timestamp"


def test_a_wrong_signature_for_a_stale_request_says_bad_signature_not_stale() -> None:
    headers = _signed()
    headers[H_SIGNATURE] = "v1=" + "1" * 64
    assert _verify(headers, now=NOW + 10_000) == "bad_signature"


@given(st.binary(max_size=200), st.binary(min_size=1, max_size=200))
def test_any_other_body_fails(body: bytes, other: bytes) -> None:
    headers = sign(SECRET, "rx", "POST", "/ingest/jalert", body, timestamp=NOW, nonce="nonce-" + "x" * 12)
    if other != body:
        assert _verify(headers, other) == "bad_signature"
    assert _verify(headers, body) == "ok"


def test_a_bad_nonce_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match="nonce"):
        sign(SECRET, "rx", "POST", "/p", b"", timestamp=NOW, nonce="has space in it......")
