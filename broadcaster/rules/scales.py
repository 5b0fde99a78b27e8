"""Ordered scales the rules compare on: JMA seismic intensity (震度)."""

from __future__ import annotations

import unicodedata

# JMA's spelling in telegrams (docs/jma.md), lowest first.
INTENSITIES: tuple[str, ...] = ("1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")
_RANK = {v: i for i, v in enumerate(INTENSITIES)}
_WORDS = {"弱": "-", "強": "+", "震度": "", "以上未入電": ""}


def intensity_rank(value: str) -> int | None:
    """0 for 震度1 up to 8 for 震度7; None when the text is not an intensity.

    Accepts JMA's spelling (5-), the spoken one (5弱, 震度５強) in full- or half-width digits.
    「震度５弱以上未入電」 (a town whose meter did not report) counts as 5弱: at least that strong.
    """
    text = unicodedata.normalize("NFKC", value).strip()
    for word, sign in _WORDS.items():
        text = text.replace(word, sign)
    return _RANK.get(text)


def intensity_text(rank: int) -> str:
    return INTENSITIES[rank]
