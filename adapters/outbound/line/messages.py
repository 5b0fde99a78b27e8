"""A delivery's rendered texts as LINE message objects: at most five per request, every language kept.

LINE takes up to five message objects in one push, multicast, narrowcast or broadcast, and a text
message holds up to 5,000 characters, counted as UTF-16 code units (the reference's "Max character
limit: 5000" is checked that way: a character outside the BMP, such as 𠮷 in a name or an emoji,
counts two). Every length here is counted so: `len()` counts code points, and two parts that fit
by `len()` were once joined into a message LINE refused. A delivery can carry several languages
(a Vietnamese reader gets Vietnamese, then the Japanese original), each already split into parts
by the renderer, and a Flex bubble for severe alerts. When all of that does not fit in five, what goes first is what a
person misses least: the bubbles of later languages, then the bubble of the first, then the
splits between parts (joined back up to 5,000 characters). Only then is a language's text cut,
and the cut says so and where to read the rest. Every language keeps at least one message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from broadcaster.channels import RenderedText

MAX_MESSAGES = 5
MAX_TEXT = 5000
# LINE's limit for a Flex message's altText, which is what notifications and old clients show.
MAX_ALT_TEXT = 1500
_CUT_JA = "…（続きは{url}）"
_CUT_OTHER = "... (more: {url})"


@dataclass(frozen=True, slots=True)
class LineMessage:
    language: str
    text: str  # the text message itself, or a Flex message's altText
    flex: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        if self.flex is not None:
            return {"type": "flex", "altText": self.text, "contents": dict(self.flex)}
        return {"type": "text", "text": self.text}


def units(text: str) -> int:
    """The length of `text` as LINE counts it: UTF-16 code units."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _prefix(text: str, limit: int) -> str:
    """The longest start of `text` within `limit` units, never half of a surrogate pair."""
    used = 0
    for i, c in enumerate(text):
        used += 2 if ord(c) > 0xFFFF else 1
        if used > limit:
            return text[:i]
    return text


def cut(text: str, limit: int, mark: str) -> str:
    """`text` within `limit` UTF-16 units; when shortened, ending with `mark`."""
    if units(text) <= limit:
        return text
    if units(mark) >= limit:
        return _prefix(text, limit)
    return _prefix(text, limit - units(mark)).rstrip() + mark


def _mark(language: str, more_url: str) -> str:
    return (_CUT_JA if language.startswith("ja") else _CUT_OTHER).format(url=more_url)


def _flex_of(text: RenderedText) -> Mapping[str, Any] | None:
    flex = text.extra.get("flex")
    # A container is a bubble or a carousel; anything else is the renderer's mistake and is left out
    # rather than failing a warning.
    if isinstance(flex, Mapping) and flex.get("type") in ("bubble", "carousel"):
        return flex
    return None


def _joined(parts: Sequence[str]) -> list[str]:
    """Consecutive parts joined while they fit one text message."""
    out: list[str] = []
    for part in parts:
        if out and units(out[-1]) + 1 + units(part) <= MAX_TEXT:
            out[-1] = out[-1] + "\n" + part
        else:
            out.append(part)
    return out


def _quotas(needs: Sequence[int], total: int) -> list[int]:
    """At least one message per language, the rest to the earliest languages that want more."""
    quotas = [1] * len(needs)
    spare = total - len(needs)
    for i, need in enumerate(needs):
        extra = min(need - 1, spare)
        quotas[i] += extra
        spare -= extra
    return quotas


def plan(texts: Sequence[RenderedText], more_url: str, *, limit: int = MAX_MESSAGES) -> list[LineMessage]:
    """The messages of one request, in reading order: each language's text parts, then its bubble."""
    texts = list(texts)[:limit]
    bodies: list[list[str]] = []
    for t in texts:
        mark = _mark(t.language, more_url)
        bodies.append(
            [cut(p, MAX_TEXT, mark) for p in (t.parts or (t.body,)) if p.strip()] or [t.title or "-"]
        )
    flexes = [_flex_of(t) for t in texts]

    def count() -> int:
        return sum(len(b) for b in bodies) + sum(f is not None for f in flexes)

    for i in reversed(range(len(texts))):
        if count() <= limit:
            break
        flexes[i] = None
    if count() > limit:
        bodies = [_joined(b) for b in bodies]
    if count() > limit:
        for i, quota in enumerate(_quotas([len(b) for b in bodies], limit)):
            if len(bodies[i]) > quota:
                rest = "\n".join(bodies[i][quota - 1 :])
                bodies[i] = [*bodies[i][: quota - 1], cut(rest, MAX_TEXT, _mark(texts[i].language, more_url))]

    out: list[LineMessage] = []
    for t, body, flex in zip(texts, bodies, flexes, strict=True):
        out.extend(LineMessage(t.language, part) for part in body)
        if flex is not None:
            alt = cut(t.body or body[0], MAX_ALT_TEXT, "…")
            out.append(LineMessage(t.language, alt, flex))
    return out
