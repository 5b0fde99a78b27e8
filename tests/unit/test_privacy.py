"""The field cipher and the data-key settings (broadcaster/privacy.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.errors import ConfigError
from broadcaster.privacy import FieldCipher, SealedDataError, is_sealed, key_id_of, new_key
from broadcaster.settings import load_settings
from tests.canaries import canary

KEY = canary("privacy-key", 16)
OLD = canary("privacy-key-old", 16)


def test_a_sealed_value_opens_only_for_its_column_and_never_shows_the_clear_text() -> None:
    cipher = FieldCipher(KEY)
    token = cipher.seal("U0123456789abcdef0123456789abcdef", "subscriber_endpoints.address")
    assert is_sealed(token) and "0123456789abcdef" not in token
    assert key_id_of(token) == cipher.key_id
    assert cipher.open(token, "subscriber_endpoints.address") == "U0123456789abcdef0123456789abcdef"
    assert cipher.seal("same", "c") != cipher.seal("same", "c"), "a fresh nonce every time"
    with pytest.raises(SealedDataError, match="altered or moved"):
        cipher.open(token, "users.totp_secret")


@pytest.mark.parametrize("position", [len("~sealed1:") + 10, -1, -5])
def test_an_altered_value_does_not_open(position: int) -> None:
    cipher = FieldCipher(KEY)
    token = cipher.seal("taro@example.jp", "c")
    chars = list(token)
    # Flip the high bit of the character's six: the low bits of the last character of unpadded
    # base64 may be padding that decodes to the same bytes, the high bit never is.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    chars[position] = alphabet[alphabet.index(chars[position]) ^ 32]
    with pytest.raises(SealedDataError):
        cipher.open("".join(chars), "c")


def test_rotation_opens_old_values_and_seals_under_the_new_key() -> None:
    old = FieldCipher(OLD)
    token = old.seal("0768520001", "users.phone")
    rotated = FieldCipher(KEY, previous=[OLD])
    assert rotated.open(token, "users.phone") == "0768520001"
    assert not rotated.current(token)
    assert rotated.current(rotated.seal("x", "users.phone"))
    assert rotated.key_ids == (FieldCipher(KEY).key_id, old.key_id)
    with pytest.raises(SealedDataError, match="not configured"):
        FieldCipher(KEY).open(token, "users.phone")


def test_key_ids_are_stable_fingerprints_that_reveal_nothing() -> None:
    assert FieldCipher(KEY).key_id == FieldCipher(KEY).key_id != FieldCipher(OLD).key_id
    assert len(FieldCipher(KEY).key_id) == 8 and FieldCipher(KEY).key_id not in KEY


def test_new_keys_are_long_enough_and_different() -> None:
    a, b = new_key(), new_key()
    assert a != b and len(a.encode()) >= 32
    FieldCipher(a)


def test_a_short_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, var_dir=tmp_path, privacy={"key": "short-but-secret"})
    assert "32 bytes" in str(info.value) and "short-but-secret" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_the_key_may_come_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "data.key"
    path.write_text(KEY + "\n", encoding="utf-8")
    settings = load_settings(None, var_dir=tmp_path, privacy={"key": None, "key_file": str(path)})
    cipher = settings.privacy.cipher()
    assert cipher is not None and cipher.key_id == FieldCipher(KEY).key_id
    missing = load_settings(None, var_dir=tmp_path, privacy={"key": None, "key_file": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="key_file"):
        missing.privacy.cipher()


def test_previous_keys_without_a_current_one_are_a_mistake(tmp_path: Path) -> None:
    settings = load_settings(None, var_dir=tmp_path, privacy={"key": None, "previous_keys": [OLD]})
    with pytest.raises(ConfigError, match="no current key"):
        settings.privacy.cipher()


def test_settings_never_print_the_key(tmp_path: Path) -> None:
    settings = load_settings(None, var_dir=tmp_path, privacy={"key": KEY})
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())
