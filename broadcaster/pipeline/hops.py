"""Per-hop timestamps travel as message headers, so every receipt knows its whole path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

H_RECEIVED = "x-hop-received"
H_NORMALIZED = "x-hop-normalized"
H_ROUTED = "x-hop-routed"
H_TENANT = "x-tenant"
H_REDRIVE = "x-redrive"


def stamp(headers: Mapping[str, str], name: str, at: datetime) -> dict[str, str]:
    out = dict(headers)
    out[name] = at.isoformat()
    return out


def read(headers: Mapping[str, str], name: str) -> datetime | None:
    value = headers.get(name)
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else None


def carry(headers: Mapping[str, str]) -> dict[str, str]:
    """The hop headers of an incoming message, to pass on to what it produces."""
    return {k: v for k, v in headers.items() if k.startswith("x-hop-")}
