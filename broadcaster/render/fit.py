"""Cutting a text into parts that each fit a channel, at sentence ends, always marked.

A text that fits is one part. Otherwise it is split where a sentence ends (。 . ! ? or a line
end); a sentence longer than a whole part is split at a comma or space, and only a run of text
with neither is cut between characters (never inside a combining sequence). Every part starts
with the drill label when there is one; a part that ends inside a sentence ends with "…"; a
thread is numbered. What does not fit in the channel's last part is replaced by a cut mark that
points to the full text on the website (or, where no link fits, says that there is more).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from broadcaster.render.limits import Limits

# Sentence ends keep their punctuation: 。！？ . ! ? and the danda (ne), ။ (my), ។ (km).
_SENTENCES = re.compile(r"[^\n]*?(?:[\n。．！？!?।။។]+[」』）)\"']*|\.(?=\s)|$)\s*")
_CLAUSES = re.compile(r"[^、，,・：:；; 　]*[、，,・：:；; 　]+|[^、，,・：:；; 　]+")
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Marks:
    more: str  # "…（続きは {url}）", filled with the page's address
    continued: str  # "…（続きあり）", where no link fits
    number: str  # "（{i}/{n}）"


@dataclass(frozen=True, slots=True)
class Fitted:
    parts: tuple[str, ...]
    cut: bool  # text was left out (the last part carries the mark)


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    ends_sentence: bool


def _pieces(text: str, room: int, estimate: Callable[[str], int]) -> list[_Piece]:
    """The text as sentences, with any sentence longer than `room` broken into smaller pieces."""
    out: list[_Piece] = []
    for sentence in (m.group(0) for m in _SENTENCES.finditer(text)):
        if not sentence:
            continue
        if estimate(sentence) <= room:
            out.append(_Piece(sentence, True))
            continue
        clauses = [m.group(0) for m in _CLAUSES.finditer(sentence) if m.group(0)]
        for i, clause in enumerate(clauses):
            last = i == len(clauses) - 1
            if estimate(clause) <= room:
                out.append(_Piece(clause, last))
            else:
                chunks = _hard_chunks(clause, room, estimate)
                out.extend(_Piece(c, last and j == len(chunks) - 1) for j, c in enumerate(chunks))
    return out


# Letters that Unicode classes as such but that join the character before them (UAX #29
# SpacingMark): Thai and Lao SARA AM.
_JOINING = frozenset("\u0e33\u0eb3\u200d\ufe0f\ufe0e")


def _safe_cut(text: str, at: int) -> int:
    # Step back over combining marks, joiners and variation selectors so that no character is
    # split from its accents (Thai, Khmer, Burmese, Vietnamese, emoji sequences).
    while 0 < at < len(text) and (
        unicodedata.category(text[at]).startswith("M") or text[at] in _JOINING or text[at - 1] == "\u200d"
    ):
        at -= 1
    return at


def _hard_chunks(text: str, room: int, estimate: Callable[[str], int]) -> list[str]:
    chunks = []
    rest = text
    while rest:
        size = 0
        at = 0
        while at < len(rest) and size + estimate(rest[at]) <= room:
            size += estimate(rest[at])
            at += 1
        at = _safe_cut(rest, max(at, 1)) or max(at, 1)
        chunks.append(rest[:at])
        rest = rest[at:]
    return chunks


def _pack(pieces: list[_Piece], room: int, estimate: Callable[[str], int], ell: int) -> list[tuple[str, bool]]:
    """Greedy parts of at most `room` (estimated), each (text, ends inside a sentence)."""
    parts: list[tuple[str, bool]] = []
    cur: list[str] = []
    size = 0
    for i, piece in enumerate(pieces):
        w = estimate(piece.text)
        # A part that would end inside a sentence needs room for its "…".
        need = w + (0 if piece.ends_sentence else ell)
        if cur and size + need > room:
            parts.append(("".join(cur), not pieces[i - 1].ends_sentence))
            cur, size = [], 0
        cur.append(piece.text)
        size += w
    if cur:
        parts.append(("".join(cur), not pieces[-1].ends_sentence))
    return parts


def fit(text: str, limits: Limits, *, label: str, url: str, marks: Marks) -> Fitted:
    """`text` as parts that each fit `limits`, every one starting with `label`.

    `url` is where the cut mark points (empty: the mark says only that there is more).
    """
    text = text.strip()
    whole = label + text
    if limits.max_length is None or limits.fits(whole):
        return Fitted((whole,), False)
    limit = limits.max_length
    slack = 0
    # The estimate is exact for every unit but X's (URLs weigh 23 there whatever their length),
    # so a part that does not fit after all is packed again with that much less room.
    for _ in range(12):
        fitted = _fit_once(text, limits, limit - slack, label, url, marks)
        over = max(limits.measure(p) - limit for p in fitted.parts)
        if over <= 0:
            return fitted
        slack += over
    return Fitted(tuple(_hard_fit(p, limits, limit) for p in fitted.parts), fitted.cut)


def _fit_once(text: str, limits: Limits, limit: int, label: str, url: str, marks: Marks) -> Fitted:
    est = limits.estimate
    max_parts = limits.max_parts if limits.overflow == "thread" else 1

    def number(i: int, n: int) -> str:
        return marks.number.format(i=i, n=n) if limits.numbered else ""

    numbering = est(number(max_parts, max_parts)) if max_parts > 1 else 0
    ell = est(ELLIPSIS)
    room = limit - est(label) - numbering
    if room <= ell:
        return Fitted((_hard_fit(label + marks.continued, limits, limit),), True)
    pieces = _pieces(text, room - ell, est)
    parts = _pack(pieces, room, est, ell)
    if len(parts) <= max_parts:
        n = len(parts)
        return Fitted(tuple(_finish(label, p, cont, number(i + 1, n) if n > 1 else "") for i, (p, cont) in enumerate(parts)), False)

    # Too long for the channel: the first parts go as they are, the last ends with the cut mark.
    mark = marks.more.format(url=url) if url else marks.continued
    if est(mark) > room - 10:
        mark = marks.continued  # a link this long would crowd out the warning itself
    head = parts[: max_parts - 1]
    done = sum(len(p) for p, _ in head)
    rest = "".join(p.text for p in pieces)[done:]
    last_room = room - est(mark)
    packed = _pack(_pieces(rest, max(last_room - ell, 1), est), max(last_room, 1), est, 0) if last_room > 0 else []
    last = packed[0][0] if packed else ""
    n = max_parts
    out = [_finish(label, p, cont, number(i + 1, n) if n > 1 else "") for i, (p, cont) in enumerate(head)]
    out.append(label + last.rstrip() + mark + (number(n, n) if n > 1 else ""))
    return Fitted(tuple(out), True)


def _finish(label: str, text: str, inside_sentence: bool, number: str) -> str:
    body = text.strip()
    return label + body + (ELLIPSIS if inside_sentence else "") + number


def _hard_fit(text: str, limits: Limits, limit: int) -> str:
    """The longest prefix that measures within `limit` (the last resort; keeps the label)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if limits.measure(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[: _safe_cut(text, lo) or lo]


def fit_title(title: str, max_chars: int | None, label: str) -> str:
    """A title within `max_chars` code points, cut at a word or clause and marked with "…"."""
    if max_chars is None or len(title) <= max_chars:
        return title
    body = title[len(label) :] if label and title.startswith(label) else title
    room = max(max_chars - len(label) - len(ELLIPSIS), 1)
    head = body[:room]
    for sep in ("。", "、", " ", "・", "："):
        at = head.rfind(sep)
        if at > room // 2:
            head = head[:at]
            break
    head = head[: _safe_cut(head, len(head)) or len(head)]
    return (label + head.rstrip() + ELLIPSIS)[:max_chars]
