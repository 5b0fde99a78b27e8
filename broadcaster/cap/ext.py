"""The broadcaster's own fields in CAP: <code> values with a "broadcaster:" prefix.

CAP's <code> is the standard's place for "any user-defined flag or special code used to flag the
alert message for special handling"; it is repeatable, free text, and readers that do not know a
code ignore it, so the document stays plain, valid CAP 1.2. We write, after the alert's own codes:

    broadcaster:origin=<origin>          always; its presence marks a document as ours
    broadcaster:event-key=<event key>    always
    broadcaster:tenant=<tenant>          when the alert has one
    broadcaster:received=<ISO 8601>      when the alert has one, at full (microsecond) precision

An alert's own code that happens to start with "broadcaster:" is written as
"broadcaster:code=<the code>", so that no code of the alert can be mistaken for one of these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from broadcaster.errors import ParseError

PREFIX = "broadcaster:"
ORIGIN = "broadcaster:origin="
EVENT_KEY = "broadcaster:event-key="
TENANT = "broadcaster:tenant="
RECEIVED = "broadcaster:received="
ESCAPED = "broadcaster:code="
_KEYS = (ORIGIN, EVENT_KEY, TENANT, RECEIVED)


@dataclass(frozen=True)
class Extension:
    """The non-CAP fields of an Alert, as read back from a document of ours."""

    origin: str
    event_key: str | None = None
    tenant: str | None = None
    received: datetime | None = None


def encode(codes: Iterable[str], ext: Extension) -> list[str]:
    out = [ESCAPED + c if c.startswith(PREFIX) else c for c in codes]
    out.append(ORIGIN + ext.origin)
    if ext.event_key is not None:
        out.append(EVENT_KEY + ext.event_key)
    if ext.tenant is not None:
        out.append(TENANT + ext.tenant)
    if ext.received is not None:
        out.append(RECEIVED + _iso(ext.received))
    return out


def decode(codes: Sequence[str]) -> tuple[tuple[str, ...], Extension | None]:
    """The alert's own codes and our extension (None when the document is not ours).

    Unknown "broadcaster:" codes (from a newer version, say) stay among the alert's codes.
    """
    own: list[str] = []
    found: dict[str, str] = {}
    for code in codes:
        key = next((k for k in _KEYS if code.startswith(k)), None)
        if key is None:
            own.append(code[len(ESCAPED) :] if code.startswith(ESCAPED) else code)
        elif key in found:
            raise ParseError("bad_extension", f"{key.rstrip('=')} appears twice")
        else:
            found[key] = code[len(key) :]
    if ORIGIN not in found:
        if found:
            raise ParseError("bad_extension", "broadcaster codes without broadcaster:origin")
        return tuple(own), None
    return tuple(own), Extension(
        origin=found[ORIGIN],
        event_key=found.get(EVENT_KEY),
        tenant=found.get(TENANT),
        received=_received(found[RECEIVED]) if RECEIVED in found else None,
    )


def _iso(value: datetime) -> str:
    # fromisoformat drops the microseconds of an offset (+00:00:00.000001), so such a rare offset
    # is written as the same instant in UTC.
    offset = value.utcoffset()
    if offset is not None and offset.microseconds:
        value = value.astimezone(UTC)
    return value.isoformat()


def _received(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as e:
        raise ParseError("bad_extension", f"broadcaster:received {text!r}") from e
    if value.tzinfo is None:
        raise ParseError("bad_extension", f"broadcaster:received {text!r} has no offset")
    return value
