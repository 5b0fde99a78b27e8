"""Unsubscribe tokens for e-mail links (RFC 2369 List-Unsubscribe, RFC 8058 one-click). Pure.

A token names one address of one town and nothing else can be read from it or made like it: it is
the address encrypted with AES-SIV (deterministic authenticated encryption, RFC 5297) under a key
derived from the deployment's data key, with the town and the purpose as associated data. The
web route decrypts it and removes that address; a forged or altered token does not decrypt. The
ledger's own address hashes are never put in a link: their key is not secret, so anyone could
test a list of addresses (or phone numbers) against them.

The same key gives the short per-recipient tags of bounce addresses (VERP) and Message-IDs, for
the same reason.

Without a data key (the offline demo), a key is made once and kept in the var dir.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from broadcaster.errors import ConfigError
from broadcaster.settings import Settings

_PURPOSE = b"broadcaster-unsubscribe-v1"
_KEY_FILE = "unsubscribe.key"
# Addresses are at most 254 octets (RFC 5321); anything longer is no token of ours.
MAX_TOKEN = 400


class BadToken(Exception):
    """The token is not one this deployment made (forged, cut, another town's)."""


def derive(material: str | bytes) -> bytes:
    """The 64-byte AES-SIV key (AES-256-SIV) for unsubscribe links from the deployment's secret."""
    raw = material.encode("utf-8") if isinstance(material, str) else material
    first = hmac.new(raw, _PURPOSE + b"\x01", hashlib.sha256).digest()
    second = hmac.new(raw, first + _PURPOSE + b"\x02", hashlib.sha256).digest()
    return first + second


def key_of(settings: Settings) -> bytes:
    """The deployment's unsubscribe key: from the data key (privacy.key or privacy.key_file), else
    one kept in the var dir (made on first use, readable by the owner only)."""
    privacy = settings.privacy
    if privacy.key is not None:
        return derive(privacy.key.get_secret_value())
    if privacy.key_file is not None:
        try:
            with open(privacy.key_file, encoding="utf-8") as f:
                return derive(f.readline().strip())
        except OSError as e:
            raise ConfigError(f"privacy.key_file: {e.strerror or e}: {privacy.key_file}") from e
    return derive(_local_key(Path(settings.var_dir)))


def _local_key(var_dir: Path) -> bytes:
    path = var_dir / _KEY_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: not an unsubscribe key: {e}") from e
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex())
    return key


def token(key: bytes, tenant: str, address: str) -> str:
    sealed = AESSIV(key).encrypt(address.strip().encode("utf-8"), [_PURPOSE, tenant.encode("utf-8")])
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def address_of(key: bytes, tenant: str, value: str) -> str:
    """The address a token names; BadToken when this deployment did not make it for `tenant`."""
    if not value or len(value) > MAX_TOKEN:
        raise BadToken("no token of ours")
    try:
        sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return AESSIV(key).decrypt(sealed, [_PURPOSE, tenant.encode("utf-8")]).decode("utf-8")
    except (ValueError, InvalidTag, UnicodeDecodeError) as e:
        raise BadToken("no token of ours") from e


def tag(key: bytes, address: str) -> str:
    """A short per-recipient tag (bounce address, Message-ID) that reveals nothing of the address."""
    return hmac.new(key, b"tag\x1f" + address.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()[:16]
