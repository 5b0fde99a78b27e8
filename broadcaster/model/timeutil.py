"""Time helpers. Every timestamp in the system is timezone-aware (docs/decisions.md, decision 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")


def now() -> datetime:
    return datetime.now(UTC)


def cap_datetime(dt: datetime) -> str:
    """CAP 1.2 dateTime: seconds precision and an explicit numeric offset (no "Z")."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: every timestamp must carry its offset")
    text = dt.replace(microsecond=0).isoformat()
    return text[:-6] + "-00:00" if text.endswith("+00:00") and dt.utcoffset() == timedelta(0) else text
