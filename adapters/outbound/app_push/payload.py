"""What a push message says and how the push service should treat it. Pure.

Urgency (RFC 8030 §5.3) and TTL (§5.2) come from the alert. An actual alert that is Immediate, or
whose severity is Severe or Extreme, is ``high``: a phone in battery saving takes only ``high``
messages at once, and a JMA warning (Severe, Expected) or a 震度 report (Past) must not wait for
the phone to wake on its own. The same rule gives FCM's Android priority and APNs' priority
(fcm/adapter.py), so every push service treats one alert alike. An Immediate warning is also
short-lived (a warning of what happens now is noise an hour later; the site keeps the full
story); drills are ``low``, never waking anyone who saves battery.
A cancel stays deliverable for a day, so a phone that was off still learns the warning is over.
An alert's own expiry shortens the TTL further.

The Topic header (§5.4) is the event: a newer message of the same event replaces one the push
service still holds for an offline phone, so it wakes to the update, not to both.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

from broadcaster import safety_links
from broadcaster.channels import Delivery, RenderedText
from broadcaster.model import Alert, MsgType, Severity, Status, Urgency

# RFC 8291 §4: the push service must accept 4096 bytes of body; aes128gcm adds a 86-byte
# header, a 16-byte tag and one padding delimiter, which leaves 3993 bytes of plaintext.
MAX_PLAINTEXT = 3993

TTL_BY_URGENCY: dict[Urgency, int] = {
    Urgency.IMMEDIATE: 15 * 60,
    Urgency.EXPECTED: 6 * 3600,
    Urgency.FUTURE: 24 * 3600,
    Urgency.PAST: 3600,
    Urgency.UNKNOWN: 6 * 3600,
}
URGENCY_HEADER: dict[Urgency, str] = {
    Urgency.IMMEDIATE: "high",
    Urgency.EXPECTED: "normal",
    Urgency.FUTURE: "normal",
    Urgency.PAST: "low",
    Urgency.UNKNOWN: "normal",
}
# Severe or Extreme: urgent whatever the CAP urgency (a Past earthquake report still matters now).
URGENT_SEVERITIES = frozenset({Severity.SEVERE, Severity.EXTREME})
DRILL_TTL = 3600
CANCEL_TTL = 24 * 3600
DRILL_LABELS = {
    Status.EXERCISE: "訓練",
    Status.TEST: "試験",
    Status.SYSTEM: "システム",
    Status.DRAFT: "下書き",
}


def urgency(alert: Alert) -> str:
    if alert.status is not Status.ACTUAL:
        return "low"
    if alert.msg_type is MsgType.CANCEL:
        return "normal"
    if not alert.info:
        return "normal"
    if any(i.severity in URGENT_SEVERITIES for i in alert.info):
        return "high"
    return URGENCY_HEADER[alert.primary.urgency]


def is_urgent(alert: Alert) -> bool:
    """Whether every push service should deliver at once (Web Push high, FCM HIGH, APNs 10)."""
    return urgency(alert) == "high"


def ttl(alert: Alert, at: datetime) -> int:
    if alert.status is not Status.ACTUAL:
        seconds = DRILL_TTL
    elif alert.msg_type is MsgType.CANCEL:
        seconds = CANCEL_TTL
    else:
        seconds = TTL_BY_URGENCY[alert.primary.urgency] if alert.info else TTL_BY_URGENCY[Urgency.UNKNOWN]
    expiries = [i.expires for i in alert.info if i.expires is not None]
    if expiries and alert.msg_type is not MsgType.CANCEL:
        seconds = min(seconds, int((max(expiries) - at).total_seconds()))
    return max(0, seconds)


def topic(tenant: str, event_key: str) -> str:
    """At most 32 characters of the URL-safe base64 alphabet (RFC 8030 §5.4)."""
    digest = hashlib.sha256(f"{tenant}\x1f{event_key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")[:32]


def _labelled(text: str, label: str) -> str:
    return text if not label or text.startswith(f"【{label}】") else f"【{label}】{text}"


def _fit(data: dict[str, Any], body: str) -> bytes:
    # Cut the body (never the title, the link or the drill label) until the JSON fits.
    encoded = b""
    for size in (len(body), *range(min(len(body), 1200), -1, -50)):
        text = body if size >= len(body) else body[:size].rstrip() + "…"
        encoded = json.dumps({**data, "body": text}, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8"
        )
        if len(encoded) <= MAX_PLAINTEXT:
            return encoded
    raise ValueError("the push message does not fit even without a body")


def build(delivery: Delivery, language: str, url: str) -> bytes:
    """The JSON the PWA's service worker shows (sw.js reads exactly these fields)."""
    alert = delivery.alert
    text: RenderedText = delivery.text(language)
    label = DRILL_LABELS.get(alert.status, "")
    info = alert.info_for(text.language) or (alert.primary if alert.info else None)
    title = text.title or (info.headline if info else None) or (info.event if info else alert.identifier)
    title = _labelled(title, label)
    # The renderer fitted the first part to the push limits (and marked any cut); the full
    # text is one tap away on the site.
    shown = text.parts[0] if text.parts else text.body
    first = shown.splitlines()[0] if shown else ""
    body = shown[len(first) :].lstrip("\n") if first and first.strip() == text.title.strip() else shown
    data: dict[str, Any] = {
        "v": 1,
        "tenant": delivery.dispatch.tenant,
        "id": alert.identifier,
        "tag": topic(delivery.dispatch.tenant, alert.event_key),
        "status": alert.status.value,
        "drill": alert.status is not Status.ACTUAL,
        "label": label,
        "msgType": alert.msg_type.value,
        "urgency": urgency(alert),
        "lang": text.language,
        "sent": alert.sent.isoformat(),
        "title": title,
        "url": url,
        # The app offers the safety answer (無事 / 支援が必要 / 避難済み) when it is tapped.
        "safety": safety_links.asks(alert),
    }
    return _fit(data, _labelled(body, label))
