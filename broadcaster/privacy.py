"""Personal data at rest: the field cipher, its keys, and the start-up rule when no key is set.

Contact endpoints (LINE user ids, e-mail addresses, phone numbers, push subscriptions, e-circular
ids), officers' TOTP secrets and phone numbers, and the recipient lists of dispatches are sealed
in the ledger with AES-256-GCM under a key from the environment or a file (docs/privacy.md).

* The key is any secret of at least 32 bytes (``broadcaster privacy keygen`` prints a fresh one);
  the AES key is derived from it with HKDF-SHA256, so a passphrase-shaped secret from a vault
  works as well as raw random bytes.
* A sealed value reads ``~sealed1:<key id>:<base64url(nonce | ciphertext)>``. The key id is a
  short fingerprint of the derived key: it says which key opens the value, never anything about
  the key. The associated data is the column's name, so a value moved to another column does not
  open.
* Rotation: the new key becomes ``privacy.key``, the old one moves to ``privacy.previous_keys``;
  ``broadcaster privacy rekey`` re-seals every value under the new key; then the old one goes.
* Lookups never need the cipher: ``subscriber_endpoints.address_hash`` is a keyed hash computed
  from the clear address when it is stored (broadcaster/store/audiences.py).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from broadcaster.errors import BroadcasterError, ConfigError

PREFIX = "~sealed1:"
MIN_KEY_BYTES = 32
_NONCE = 12
_HKDF_INFO = b"broadcaster field encryption v1"


class SealedDataError(BroadcasterError):
    """A sealed value that cannot be opened: no key configured, an unknown key, or tampering."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def key_id_of(token: str) -> str | None:
    if not is_sealed(token):
        return None
    return token[len(PREFIX) :].split(":", 1)[0]


def new_key() -> str:
    """A fresh key for ``privacy.key``: 32 random bytes, base64url."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class _Key:
    id: str
    aead: AESGCM


def _derive(material: str) -> _Key:
    raw = material.encode("utf-8")
    if len(raw) < MIN_KEY_BYTES:
        raise ConfigError(
            f"privacy: a data key needs at least {MIN_KEY_BYTES} bytes (`broadcaster privacy keygen` makes one)"
        )
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(raw)
    kid = hashlib.sha256(b"broadcaster-key-id\x1f" + key).hexdigest()[:8]
    return _Key(kid, AESGCM(key))


class FieldCipher:
    """Seals with the current key; opens with the current or any previous one."""

    def __init__(self, current: str, previous: Iterable[str] = ()) -> None:
        self._current = _derive(current)
        self._keys = {self._current.id: self._current}
        for material in previous:
            k = _derive(material)
            self._keys.setdefault(k.id, k)

    @property
    def key_id(self) -> str:
        return self._current.id

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def seal(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(_NONCE)
        ct = self._current.aead.encrypt(nonce, plaintext.encode("utf-8"), purpose.encode("utf-8"))
        body = base64.urlsafe_b64encode(nonce + ct).decode("ascii").rstrip("=")
        return f"{PREFIX}{self._current.id}:{body}"

    def open(self, token: str, purpose: str) -> str:
        if not is_sealed(token):
            raise SealedDataError("not a sealed value")
        kid, _, body = token[len(PREFIX) :].partition(":")
        key = self._keys.get(kid)
        if key is None:
            raise SealedDataError(
                f"a value in {purpose} is sealed with key {kid}, which is not configured "
                f"(configured: {', '.join(self._keys)}); add it to privacy.previous_keys"
            )
        try:
            data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return key.aead.decrypt(data[:_NONCE], data[_NONCE:], purpose.encode("utf-8")).decode("utf-8")
        except (InvalidTag, ValueError) as e:
            raise SealedDataError(f"a sealed value in {purpose} does not open: altered or moved") from e

    def current(self, token: str) -> bool:
        """True when `token` is sealed under the current key (nothing to re-seal)."""
        return key_id_of(token) == self._current.id


def cipher_from(
    key: SecretStr | None, key_file: os.PathLike[str] | str | None, previous: Iterable[SecretStr] = ()
) -> FieldCipher | None:
    """The cipher of the configured keys (None: no key). A key file holds the key on its first line."""
    material: str | None = key.get_secret_value() if key is not None else None
    if material is None and key_file is not None:
        try:
            with open(key_file, encoding="utf-8") as f:
                material = f.readline().strip()
        except OSError as e:
            raise ConfigError(f"privacy.key_file: {e.strerror or e}: {key_file}") from e
    if not material:
        if any(True for _ in previous):
            raise ConfigError("privacy: previous_keys are set but no current key")
        return None
    return FieldCipher(material, (p.get_secret_value() for p in previous))


class PrivacySettings(BaseModel):
    """[privacy]: the data key and how long delivery records keep whom they went to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The data key (BROADCASTER_PRIVACY__KEY), or a file holding it (systemd credentials, a
    # mounted Kubernetes secret). At least 32 bytes; `broadcaster privacy keygen` makes one.
    key: SecretStr | None = None
    key_file: Path | None = None
    # Keys being rotated out: they still open what they sealed until `broadcaster privacy rekey`
    # has re-sealed everything under `key`.
    previous_keys: list[SecretStr] = Field(default_factory=list)
    # Without a key, `broadcaster run`, `worker` and `web` refuse to start; the offline demo
    # sets this to false and runs with a warning at every start.
    require_key: bool = True
    # A dispatch's recipient list (LINE ids, addresses, subscriptions) is purged this long after
    # the last message of its event, once the dispatch is final; counts and times stay.
    recipients_retention_days: float = Field(default=90.0, gt=0)
    # When the scheduler runs the retention job (cron, Asia/Tokyo).
    retention_cron: str = "40 3 * * *"

    @field_validator("key", "previous_keys")
    @classmethod
    def _long_enough(cls, v: Any) -> Any:
        for secret in v if isinstance(v, list) else [v]:
            if secret is not None and len(secret.get_secret_value().encode("utf-8")) < MIN_KEY_BYTES:
                raise ValueError(f"a data key needs at least {MIN_KEY_BYTES} bytes (`broadcaster privacy keygen`)")
        return v

    def cipher(self) -> FieldCipher | None:
        return cipher_from(self.key, self.key_file, self.previous_keys)
