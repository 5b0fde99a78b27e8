"""Canaries: the suite's credentials in a form that is easy to find where it must never be.

Every credential the tests configure is registered here: the named ones are made by `canary()`
(a recognisable ``canary-<what>-<random>`` string, or base32 for TOTP secrets), and every
SecretStr built anywhere during the run is added as it is made (tests/secret_scan.py). At the end
of the session the scan fails the run if any of them appears in captured output or in a log file
under the pytest base temporary directory.
"""

from __future__ import annotations

import base64
import secrets

# value → what it is (never printed with the value)
KNOWN: dict[str, str] = {}


def remember(value: str, what: str) -> str:
    if value:
        KNOWN.setdefault(value, what)
    return value


def canary(what: str, nbytes: int = 12) -> str:
    """``canary-<what>-<hex>``: at least 32 bytes for every `what` of a few letters."""
    return remember(f"canary-{what}-{secrets.token_hex(nbytes)}", what)


def canary_totp() -> str:
    """A valid TOTP secret (base32, 160 bits) that starts with CANARY."""
    tail = base64.b32encode(secrets.token_bytes(20)).decode("ascii")[:26]
    return remember("CANARY" + tail, "totp-secret")


# The ledger's data key for every process the suite starts (broadcaster/privacy.py).
DATA_KEY = canary("privacy-data-key", 16)
OFFICER_PASSWORD = canary("officer-password")
