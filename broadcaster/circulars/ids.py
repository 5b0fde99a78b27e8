"""Identifiers of circulars, deliveries and notices: derived from what they are, where they can be.

Deriving them is what makes recording idempotent: the same alert's circular dispatch recorded
twice (a redelivery, a re-drive) names the same circular, the same person the same delivery, the
same reminder the same notice, and the ledger keeps one of each.
"""

from __future__ import annotations

import hashlib
import secrets


def _h(*parts: str, n: int) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:n]


def emergency_circular(tenant: str, alert_id: str) -> str:
    return "c-" + _h("circular", tenant, alert_id, n=24)


def routine_circular() -> str:
    return "c-" + secrets.token_hex(12)


def delivery(circular_id: str, recipient: str) -> str:
    return _h("delivery", circular_id, recipient, n=32)


def notice(delivery_id: str, purpose: str, channel: str) -> str:
    return _h("notice", delivery_id, purpose, channel, n=32)


def officers_alert(circular_id: str, delivery_ids: list[str]) -> str:
    """The System alert about these unconfirmed deliveries: the same set, the same alert."""
    return f"sys-circ-{circular_id[2:14]}-" + _h(circular_id, *sorted(delivery_ids), n=16)
