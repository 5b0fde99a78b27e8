"""Each channel's limits, measured the way its provider measures.

| channel | unit | per part | parts | overflow |
|---|---|---|---|---|
| x | twitter-text weighted length (CJK counts 2, a URL 23) | 280 | 4, numbered | thread, then a link |
| line | UTF-16 code units (a character outside the BMP counts 2) | 5,000 | 4 (+1 Flex = LINE's 5 per request) | messages, then a link |
| mastodon | code points (server default) | 500 | 3, numbered | thread, then a link |
| bluesky | code points (the network counts graphemes, never more) | 300 | 3, numbered | thread, then a link |
| app_push, fcm | code points; title 50 | 200 | 1 | cut, marked; the tap opens the page |
| sms | UCS-2 units | 70 | 3, numbered | segments, then cut |
| email, circular | none; subject/title 100 | – | 1 | – |
| website, webhook, lalert_out | none | – | 1 | – |

Counting is conservative where the provider's exact rule is not ours to run: a code point is
never fewer than a grapheme, a UTF-16 unit never fewer than a code point, so a text we call fit
also fits there. A live adapter that declares a smaller `max_text_length` lowers the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from twitter_text import parse_tweet  # type: ignore[import-untyped]

from broadcaster.channels import ChannelProfile, channel_family

Unit = Literal["chars", "utf16", "x", "ucs2"]
Overflow = Literal["thread", "cut"]
# Which page a cut mark points to: the alert's own, the town's list of current alerts (shorter,
# for SMS), or none (push: the tap opens the alert).
MarkLink = Literal["alert", "list", "none"]


def utf16_units(text: str) -> int:
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


@lru_cache(maxsize=512)
def x_weighted(text: str) -> int:
    # twitter-text's own rule (weights by code-point range, URLs as 23, emoji sequences as 2,
    # NFC first). It is slow (~1 ms per call), hence the cache and x_estimate below.
    return int(parse_tweet(text).weightedLength)


def _x_char_weight(c: str) -> int:
    # twitter-text v3 configuration: these ranges weigh 1, everything else 2.
    cp = ord(c)
    if cp <= 4351 or 8192 <= cp <= 8205 or 8208 <= cp <= 8223 or 8242 <= cp <= 8247:
        return 1
    return 2


def x_estimate(text: str) -> int:
    """Additive per-character weight: exact for plain text, above X's count for long URLs."""
    return sum(_x_char_weight(c) for c in text)


_MEASURES: dict[Unit, Callable[[str], int]] = {
    "chars": len,
    "utf16": utf16_units,
    "ucs2": utf16_units,
    "x": x_weighted,
}
_ESTIMATES: dict[Unit, Callable[[str], int]] = {
    "chars": len,
    "utf16": utf16_units,
    "ucs2": utf16_units,
    "x": x_estimate,
}


@dataclass(frozen=True, slots=True)
class Limits:
    unit: Unit = "chars"
    max_length: int | None = None  # per part, in `unit`
    max_parts: int = 1
    overflow: Overflow = "thread"
    numbered: bool = False  # "(1/3)" on every part of a thread
    title_max: int | None = None  # code points
    mark_link: MarkLink = "alert"

    def measure(self, text: str) -> int:
        return _MEASURES[self.unit](text)

    def estimate(self, text: str) -> int:
        return _ESTIMATES[self.unit](text)

    def fits(self, text: str) -> bool:
        return self.max_length is None or self.measure(text) <= self.max_length


CHANNEL_LIMITS: dict[str, Limits] = {
    "website": Limits(),
    "webhook": Limits(),
    "lalert_out": Limits(),
    "email": Limits(title_max=100),
    "circular": Limits(title_max=100),
    "line": Limits("utf16", 5000, max_parts=4),
    "x": Limits("x", 280, max_parts=4, numbered=True),
    "mastodon": Limits("chars", 500, max_parts=3, numbered=True),
    "bluesky": Limits("chars", 300, max_parts=3, numbered=True),
    "app_push": Limits("chars", 200, max_parts=1, overflow="cut", title_max=50, mark_link="none"),
    "fcm": Limits("chars", 200, max_parts=1, overflow="cut", title_max=50, mark_link="none"),
    "sms": Limits("ucs2", 70, max_parts=3, numbered=True, mark_link="list"),
    # 緊急速報メール (every carrier's channel): the carriers' guide, 15 characters of title and 200
    # of text; no link in the text (adapters/outbound/area_mail/carriers.py).
    "area_mail": Limits("chars", 200, max_parts=1, overflow="cut", title_max=15, mark_link="none"),
}
# The Flex bubble is one of LINE's five messages per request. Its alt text (notifications, old
# clients) may be 1,500 characters; ours stays short enough to read on a lock screen.
LINE_ALT_TEXT_MAX = 400
LINE_MESSAGES_PER_REQUEST = 5


def limits_for(channel: str, profile: ChannelProfile | None = None) -> Limits:
    """The channel's limits, lowered to what its live adapter declares.

    Adapters declare characters. For X a declared limit means characters of double weight
    (140 Japanese characters fill the 280 of a post), so it is doubled into X's weighted units.
    """
    family = channel_family(channel)
    base = CHANNEL_LIMITS.get(channel) or (CHANNEL_LIMITS.get(family) if family else None)
    declared = profile.max_text_length if profile is not None else None
    if base is None:
        return Limits("chars", declared)
    if declared is not None and base.unit == "x":
        declared *= 2
    if declared is not None and (base.max_length is None or declared < base.max_length):
        return replace(base, max_length=declared)
    return base
