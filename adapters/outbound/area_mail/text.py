"""Fitting a message to the carriers' 緊急速報メール: their characters and their lengths.

Phones show area mail in the character set of Japanese mobile mail (JIS X 0208): a character
outside it arrives as a box or not at all. Half-width katakana and machine-dependent characters
are therefore replaced by their plain forms (ｶﾀｶﾅ → カタカナ, ① → 1, ㈱ → (株)), and what is still
outside the set (emoji, rare kanji) is left out; every change is listed, so the officer sees it beside the
text. Lengths are counted per character, a half-width character as a whole one, which is never
fewer than a carrier counts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CUT = "…"


@dataclass(frozen=True, slots=True)
class Fitted:
    title: str
    body: str
    notes: tuple[str, ...]


def _representable(c: str) -> bool:
    if c == "\n":
        return True
    try:
        c.encode("shift_jis")
    except UnicodeEncodeError:
        return False
    return True


_HALF_KANA = re.compile(r"[\uff61-\uff9f]+")


def _substitute(c: str) -> str:
    # A machine-dependent character has a plain equivalent (① → 1, ㈱ → (株), Ⅲ → III); only
    # characters the phones cannot show are touched, so full-width punctuation stays as written.
    if _representable(c):
        return c
    plain = unicodedata.normalize("NFKC", c)
    return plain if plain != c and all(_representable(x) for x in plain) else c


def clean(text: str, notes: list[str], what: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Half-width katakana in runs, so that ｶﾞ becomes one ガ rather than カ and a lone ゛.
    normalised = _HALF_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    normalised = "".join(_substitute(c) for c in normalised)
    if normalised != text and "normalised" not in {n.split(":")[0] for n in notes}:
        notes.append("normalised: 半角カナ・機種依存文字を置き換えました")
    dropped = sorted({c for c in normalised if not _representable(c)})
    if dropped:
        notes.append(f"dropped: {what}から携帯で表示できない文字を除きました: {' '.join(dropped)}")
    out = "".join(c for c in normalised if _representable(c))
    lines = [line.rstrip() for line in out.split("\n")]
    return "\n".join(lines).strip()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT)].rstrip() + CUT


def fit(title: str, body: str, *, title_max: int, body_max: int, label: str = "") -> Fitted:
    """The title and text as the carrier will take them; `label` (【訓練】) is kept in front."""
    notes: list[str] = []
    title = " ".join(clean(title, notes, "題").split())
    body = clean(body, notes, "本文")
    if len(title) > title_max:
        notes.append(f"cut: 題を{title_max}文字に縮めました")
        title = _cut(title, title_max)
    if len(body) > body_max:
        notes.append(f"cut: 本文を{body_max}文字に縮めました")
        body = _cut(body, body_max)
    if label and not body.startswith(label):
        # The guide asks that a drill say so in the text itself, whatever the title shows.
        body = _cut(label + body, body_max)
    return Fitted(title, body, tuple(notes))
