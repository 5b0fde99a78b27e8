"""What the LINE Platform posts to a bot's webhook URL: the signature and the events, read warily.

LINE signs the raw body: ``X-Line-Signature`` is the Base64 of HMAC-SHA256 over the body with the
channel secret as key. The signature carries no timestamp and no nonce, so it proves only that the
body came from LINE once; the receiver refuses a repeat by each event's ``webhookEventId``
(broadcaster/web/line_hook.py).

Everything here is parsed only after the signature was checked, and still as hostile input: a
person types the texts, and a bug or a change at LINE may send shapes we do not expect. An event we
cannot read is skipped (and counted), never a reason to refuse the whole request, because LINE
would then redeliver the good events beside it too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

USER_ID = re.compile(r"U[0-9a-f]{32}")
# LINE's ids are ULIDs (26 characters); anything id-like up to 64 is taken, nothing else.
EVENT_ID = r"^[0-9A-Za-z_-]{1,64}$"
# A request holds the events of a moment for one channel; LINE batches a few, never thousands.
MAX_EVENTS = 100
# What we read of a typed message: enough for a link code or a keyword, never more.
MAX_TEXT = 200


class SignatureError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BodyError(Exception):
    """The signed body is not a webhook request (not JSON, not an object with events)."""


def signature(secret: str, body: bytes) -> str:
    """The X-Line-Signature LINE sends for `body` (tests and the fake sign with this too)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    """Raise SignatureError unless `header` is the body's signature under `secret`.

    The digests are compared in constant time, as bytes: comparing the Base64 strings would
    accept different spellings of the same digest only by accident, and leak nothing either way.
    """
    if not header:
        raise SignatureError("missing")
    try:
        given = base64.b64decode(header.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise SignatureError("malformed") from None
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise SignatureError("mismatch")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class _Source(_Model):
    type: str = Field(max_length=16)
    user_id: str | None = Field(default=None, alias="userId", max_length=64)


class _Delivery(_Model):
    is_redelivery: bool = Field(default=False, alias="isRedelivery")


class _Message(_Model):
    type: str = Field(max_length=32)
    # Cut, not refused: LINE allows 5,000 characters and we read only the start.
    text: str | None = None


class _Postback(_Model):
    data: str = Field(default="", max_length=300)


class _Event(_Model):
    type: str = Field(max_length=32)
    mode: str = Field(default="active", max_length=16)
    timestamp: int = Field(ge=0)
    webhook_event_id: str = Field(alias="webhookEventId", pattern=EVENT_ID)
    delivery_context: _Delivery = Field(default_factory=_Delivery, alias="deliveryContext")
    source: _Source | None = None
    reply_token: str | None = Field(default=None, alias="replyToken", max_length=256)
    message: _Message | None = None
    postback: _Postback | None = None


EventType = Literal["follow", "unfollow", "message", "postback", "other"]


@dataclass(frozen=True, slots=True)
class Event:
    """One webhook event, reduced to what the broadcaster acts on."""

    id: str
    type: EventType
    raw_type: str  # LINE's own name, for the record (join, beacon, ...)
    timestamp_ms: int
    redelivery: bool
    # False when another module holds the chat ("standby"): act on it, but send nothing.
    active: bool
    user_id: str | None  # only for one-to-one chats with a well-formed user id
    reply_token: str | None
    text: str | None = None  # a text message's text, normalised and cut
    message_type: str | None = None
    postback: str | None = None

    def to_json(self) -> str:
        """The event as kept until processed (it names a person: deleted once done)."""
        return json.dumps(
            {
                "id": self.id,
                "type": self.type,
                "raw_type": self.raw_type,
                "ts": self.timestamp_ms,
                "redelivery": self.redelivery,
                "active": self.active,
                "user": self.user_id,
                "reply": self.reply_token,
                "text": self.text,
                "message_type": self.message_type,
                "postback": self.postback,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, data: str) -> Event:
        d: dict[str, Any] = json.loads(data)
        kind = _kind(str(d["type"]))
        return cls(
            id=str(d["id"]),
            type=kind,
            raw_type=str(d["raw_type"]),
            timestamp_ms=int(d["ts"]),
            redelivery=bool(d["redelivery"]),
            active=bool(d["active"]),
            user_id=d.get("user"),
            reply_token=d.get("reply"),
            text=d.get("text"),
            message_type=d.get("message_type"),
            postback=d.get("postback"),
        )


@dataclass(frozen=True, slots=True)
class Parsed:
    destination: str | None
    events: list[Event]
    skipped: int  # events that could not be read


def clean_text(text: str) -> str:
    """A typed text as we compare it: NFKC (full-width digits and letters, as Japanese phones
    type them, become ASCII), control and format characters gone, cut to MAX_TEXT."""
    text = unicodedata.normalize("NFKC", text[: MAX_TEXT * 4])
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    return kept.strip()[:MAX_TEXT]


def _kind(name: str) -> EventType:
    if name == "follow":
        return "follow"
    if name == "unfollow":
        return "unfollow"
    if name == "message":
        return "message"
    if name == "postback":
        return "postback"
    return "other"


def _event(raw: Any) -> Event:
    e = _Event.model_validate(raw)
    kind = _kind(e.type)
    user = None
    if e.source is not None and e.source.type == "user" and e.source.user_id and USER_ID.fullmatch(e.source.user_id):
        user = e.source.user_id
    text = None
    if e.message is not None and e.message.type == "text" and isinstance(e.message.text, str):
        text = clean_text(e.message.text)
    return Event(
        id=e.webhook_event_id,
        type=kind,
        raw_type=e.type,
        timestamp_ms=e.timestamp,
        redelivery=e.delivery_context.is_redelivery,
        active=e.mode != "standby",
        user_id=user,
        reply_token=e.reply_token or None,
        text=text,
        message_type=e.message.type if e.message is not None else None,
        postback=e.postback.data if e.postback is not None else None,
    )


def parse(body: bytes) -> Parsed:
    """The events of a signed webhook body; BodyError when it is not one at all."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BodyError(f"not JSON: {type(e).__name__}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise BodyError("not a webhook request: an object with an events list is expected")
    raw_events: list[Any] = doc["events"]
    if len(raw_events) > MAX_EVENTS:
        raise BodyError(f"{len(raw_events)} events in one request; at most {MAX_EVENTS} are read")
    destination = doc.get("destination")
    events: list[Event] = []
    skipped = 0
    seen: set[str] = set()
    for raw in raw_events:
        try:
            event = _event(raw)
        except (ValidationError, ValueError, TypeError):
            skipped += 1
            continue
        if event.id in seen:  # the same event twice in one request counts once
            continue
        seen.add(event.id)
        events.append(event)
    return Parsed(
        destination=destination if isinstance(destination, str) and len(destination) <= 64 else None,
        events=events,
        skipped=skipped,
    )
