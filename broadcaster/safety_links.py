"""Residents' safety-check links (安否確認): one per person, alert and channel. Pure.

A token names one address on one channel of one town, and one alert: it is those encrypted with
AES-SIV under the deployment's unsubscribe key (broadcaster/unsubscribe.py, derived from the data
key), with this purpose and the town as associated data, so an unsubscribe token is never a
safety token nor the reverse, and nothing can be read from it or made like it. The web route
(broadcaster/web/safety.py) opens it, finds the person by the address's keyed hash, and records
the answer for their household (broadcaster/coverage/safety.py).

Whether an alert asks residents for a safety answer is the alert's `safety_check` parameter (a
tick on the console's compose page, or a manual alert's parameter): channels read it here.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

_PURPOSE = b"broadcaster-safety-v1"
MAX_TOKEN = 1200
PARAMETER = "safety_check"
PATH = "/s"
# The answers, in the order the buttons show them.
ANSWERS: dict[str, str] = {"safe": "無事", "need_help": "支援が必要", "evacuated": "避難済み"}
_POSTBACK = "sf1"  # the version of the quick reply's postback data


class BadToken(Exception):
    """The token is not one this deployment made for this town."""


@dataclass(frozen=True, slots=True)
class Named:
    channel: str
    address: str
    alert_id: str


def asks(alert: Any) -> bool:
    """Whether the alert asks residents for a safety answer (its `safety_check` parameter)."""
    for info in getattr(alert, "info", ()) or ():
        value = info.param(PARAMETER)
        if value is not None and value.strip().lower() in ("yes", "true", "1", "はい"):
            return True
    return False


def token(key: bytes, tenant: str, alert_id: str, channel: str, address: str) -> str:
    plain = "\x1f".join((channel, address.strip(), alert_id)).encode("utf-8")
    sealed = AESSIV(key).encrypt(plain, [_PURPOSE, tenant.encode("utf-8")])
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def url(public_url: str, tenant: str, value: str) -> str:
    return f"{public_url.rstrip('/')}{PATH}/{tenant}/{value}"


def named(key: bytes, tenant: str, value: str) -> Named:
    """What a token names; BadToken when this deployment did not make it for `tenant`."""
    if not value or len(value) > MAX_TOKEN:
        raise BadToken("no token of ours")
    try:
        sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        plain = AESSIV(key).decrypt(sealed, [_PURPOSE, tenant.encode("utf-8")]).decode("utf-8")
    except (ValueError, InvalidTag, UnicodeDecodeError) as e:
        raise BadToken("no token of ours") from e
    parts = plain.split("\x1f")
    if len(parts) != 3:
        raise BadToken("no token of ours")
    return Named(parts[0], parts[1], parts[2])


def alert_ref(alert_id: str) -> str:
    """A short reference to an alert for LINE's postback data (300 characters at most): the
    webhook finds the alert among the town's recent ones by it."""
    return hashlib.sha256(alert_id.encode("utf-8")).hexdigest()[:20]


def postback(alert_id: str, answer: str) -> str:
    return f"{_POSTBACK}|{alert_ref(alert_id)}|{answer}"


def parse_postback(data: str | None) -> tuple[str, str] | None:
    """(alert ref, answer) of a safety quick reply's postback; None for anything else."""
    parts = (data or "").split("|")
    if len(parts) != 3 or parts[0] != _POSTBACK or parts[2] not in ANSWERS or len(parts[1]) != 20:
        return None
    return parts[1], parts[2]


def quick_reply(alert_id: str) -> dict[str, object]:
    """LINE's quick reply of a safety check: one postback button per answer (LINE shows the
    label as the resident's own message in the chat)."""
    return {
        "items": [
            {
                "type": "action",
                "action": {
                    "type": "postback",
                    "label": text,
                    "data": postback(alert_id, value),
                    "displayText": text,
                },
            }
            for value, text in ANSWERS.items()
        ]
    }


# What a resident may type instead of tapping (the buttons' words, politely or not).
_TYPED: dict[str, str] = {
    "無事": "safe", "ぶじ": "safe", "ブジ": "safe",
    "支援が必要": "need_help", "しえんがひつよう": "need_help",
    "避難済み": "evacuated", "避難済": "evacuated", "ひなんずみ": "evacuated",
}  # fmt: skip
_ENDINGS = ("です", "でした", "。", "！", "!", "です。")
_QUOTES = "「」『』\"'"


def parse_typed(text: str | None) -> tuple[str, str | None] | None:
    """(answer, note) of a typed safety answer: one of the answers' words first, then what the
    resident adds after a space, a comma or a new line is the note ("無事 公民館にいます").
    None for anything else: a typed message is an answer only when it starts with one."""
    words = (text or "").strip().strip(_QUOTES).strip()
    if not words:
        return None
    head, rest = words, ""
    for i, ch in enumerate(words):
        if ch.isspace() or ch in "、,。\n　":
            head, rest = words[:i], words[i + 1 :]
            break
    head = head.strip(_QUOTES)
    for ending in _ENDINGS:
        if head.endswith(ending) and head[: -len(ending)] in _TYPED:
            head = head[: -len(ending)]
            break
    answer = _TYPED.get(head)
    if answer is None:
        return None
    return answer, rest.strip(" \u3000、,。\n") or None
