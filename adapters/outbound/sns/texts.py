"""A delivery's texts as a thread of posts, each within what the network counts as its limit.

The renderer already splits texts into parts of the channel's length in characters; networks
count differently. X weighs each CJK character as two and any URL as 23, so 140 Japanese
characters fill a post; a part that weighs more is split again here, at a line or sentence end,
so that a warning is never refused for its length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from broadcaster.channels import Delivery

URL = re.compile(r"https?://[^\s\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]+")
X_MAX_WEIGHT = 280
X_URL_WEIGHT = 23
# twitter-text's ranges of weight 1 (Latin, and general punctuation); everything else weighs 2.
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_BREAKS = ("\n", "。", ". ", "、", ", ", " ")


@dataclass(frozen=True, slots=True)
class PostText:
    language: str
    text: str


def thread_of(delivery: Delivery) -> list[PostText]:
    """Every part of every language, in order: the thread one dispatch posts."""
    return [
        PostText(t.language, part) for t in delivery.texts for part in (t.parts or (t.body,)) if part.strip()
    ]


def x_weight(text: str) -> int:
    """The length X counts: URLs 23 each, CJK and other wide characters 2, the rest 1."""
    total = 0
    last = 0
    for m in URL.finditer(text):
        total += _weigh(text[last : m.start()]) + X_URL_WEIGHT
        last = m.end()
    return total + _weigh(text[last:])


def _weigh(text: str) -> int:
    return sum(1 if any(lo <= ord(c) <= hi for lo, hi in _LIGHT) else 2 for c in text)


def _pieces(text: str) -> Iterator[str]:
    """The text cut after each break, the breaks kept, URLs never cut."""
    pattern = "|".join(re.escape(b) for b in _BREAKS)
    last = 0
    for m in re.finditer(f"({URL.pattern})|({pattern})", text):
        if m.group(1):
            continue
        yield text[last : m.end()]
        last = m.end()
    if last < len(text):
        yield text[last:]


def split_to_fit(text: str, fits: Callable[[str], bool]) -> list[str]:
    """`text` as few chunks as possible that each fit, cut at breaks, else between characters."""
    if fits(text):
        return [text]
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text):
        if fits(current + piece):
            current += piece
            continue
        if current.strip():
            chunks.append(current.rstrip())
        current = piece.lstrip()
        while not fits(current):
            # One piece alone is too long: cut it at the longest prefix that fits.
            lo, hi = 1, len(current)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if fits(current[:mid]):
                    lo = mid
                else:
                    hi = mid - 1
            chunks.append(current[:lo])
            current = current[lo:]
    if current.strip():
        chunks.append(current.rstrip())
    return chunks


def fit_thread(posts: list[PostText], fits: Callable[[str], bool]) -> list[PostText]:
    return [PostText(p.language, chunk) for p in posts for chunk in split_to_fit(p.text, fits)]
