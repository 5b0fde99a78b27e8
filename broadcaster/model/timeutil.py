"""Time helpers. Every timestamp in the system is timezone-aware (docs/decisions.md, decision 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

JST = timezone(timedelta(hours=9), "JST")
TOKYO = "Asia/Tokyo"


@lru_cache(maxsize=64)
def zone(name: str | None = None) -> tzinfo:
    """A tenant's time zone by its IANA name (settings: tenants.time_zone); Japan's is JST, so
    that its times read 「… JST」 as they always have. An unknown name raises (settings refuse it
    at start-up)."""
    if not name or name == TOKYO:
        return JST
    return ZoneInfo(name)


def shown(at: datetime | None, tz: tzinfo = JST, fmt: str = "%m/%d %H:%M") -> str:
    """A time for a person: in the zone `tz`, followed by that zone's label at that moment (JST,
    HST, CET/CEST; "+07" where the zone has no letters). The ledger's naive values are UTC."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    local = at.astimezone(tz)
    return f"{local.strftime(fmt)} {local.tzname()}"


def now() -> datetime:
    return datetime.now(UTC)


def cap_datetime(dt: datetime) -> str:
    """CAP 1.2 dateTime: seconds precision and an explicit numeric offset (no "Z")."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: every timestamp must carry its offset")
    text = dt.replace(microsecond=0).isoformat()
    return text[:-6] + "-00:00" if text.endswith("+00:00") and dt.utcoffset() == timedelta(0) else text
