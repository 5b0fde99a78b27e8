"""The facts of a message that every medium must agree on, and the rule that compares them. Pure.

A medium may word a message its own way; it may not differ in these: whether it is real or a
drill (status), what it does to earlier messages (msgType and references), the level or warning
kind, the areas, and when it takes effect and expires (docs/consistency.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from broadcaster.model import KIND, LEVEL, Alert, MsgType, ResponseType

FACTS = ("status", "msg_type", "references", "kind", "level", "event", "areas", "effective", "expires")


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else ""


def facts_of(alert: Alert) -> dict[str, str]:
    """The message's facts as plain strings, comparable whatever medium they were read from."""
    out = {
        "status": alert.status.value,
        "msg_type": alert.msg_type.value,
        "references": " ".join(sorted(alert.referenced_identifiers())),
    }
    if not alert.info:
        return out
    info = alert.primary
    kinds = info.event_codes(KIND)
    out.update(
        kind=kinds[0] if kinds else "",
        level=info.param(LEVEL) or "",
        event=info.event,
        areas="、".join(sorted({a.area_desc for a in info.area})),
        effective=_when(info.effective),
        expires=_when(info.expires),
    )
    return out


def in_force(alert: Alert, at: datetime) -> bool:
    """Whether a list of what is in force (the banner, the app) must show the message: the newest
    of its event, not a Cancel, not a lift (AllClear), not expired."""
    if alert.msg_type is MsgType.CANCEL:
        return False
    if not alert.info:
        return True
    if ResponseType.ALL_CLEAR in alert.primary.response_type:
        return False
    expires = alert.primary.expires
    return expires is None or expires > at


@dataclass(frozen=True, slots=True)
class Difference:
    field: str
    expected: str
    carried: str


def differences(expected: Mapping[str, str], carried: Mapping[str, str]) -> list[Difference]:
    """The facts a medium states and states differently; a fact it does not state is not judged."""
    return [
        Difference(name, expected.get(name, ""), carried[name])
        for name in FACTS
        if name in carried and carried[name] != expected.get(name, "")
    ]
