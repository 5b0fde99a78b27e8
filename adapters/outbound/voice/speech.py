"""Text written for the eye, made fit for the ear before it is synthesized.

Open JTalk reads most of what the templates write (震度6強 ロクキョー, 警戒レベル4 ヨン, 16時10分);
what it reads badly is what a person on the phone must not mishear: units written as Latin letters
(10m 「ジューｍ」), a magnitude written M7.6, times with a leading zero (07時04分 「ゼロシチジ」),
links and brackets. A link cannot be heard at all; the message says where to read more instead.
"""

from __future__ import annotations

import re
import unicodedata

_BRACKETS = str.maketrans({"【": "", "】": "、", "「": "", "」": "", "『": "", "』": "", "・": "、", "／": "、"})
_REPLACEMENTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d+(?:\.\d+)?)\s*m超"), r"\1メートルを超える"),
    (re.compile(r"(\d+(?:\.\d+)?)\s*m未満"), r"\1メートル未満"),
    (re.compile(r"(\d+(?:\.\d+)?)\s*(?:m|ｍ)(?![a-zA-Z])"), r"\1メートル"),
    (re.compile(r"(\d+(?:\.\d+)?)\s*(?:km|ｋｍ)"), r"\1キロメートル"),
    (re.compile(r"(\d+(?:\.\d+)?)\s*mm"), r"\1ミリ"),
    (re.compile(r"\bM\s*(\d+(?:\.\d+)?)"), r"マグニチュード\1"),
    (re.compile(r"(?<!\d)0(\d)(時|分)"), r"\1\2"),
    (re.compile(r"〜|～"), "から"),
    (re.compile(r"\s*[（(]\s*"), "、"),
    (re.compile(r"\s*[）)]\s*"), "、"),
    (re.compile(r"[：:]\s*"), "、"),
)


def speakable(text: str) -> str:
    """The same message as one would read it aloud: no links, units spoken, pauses as 、 and 。."""
    text = re.sub(r"[ \t]*https?://\S+[ \t]*", " ", unicodedata.normalize("NFKC", text))
    text = text.translate(_BRACKETS)
    for pattern, replacement in _REPLACEMENTS:
        text = pattern.sub(replacement, text)
    lines = [line.strip(" 、") for line in text.splitlines()]
    sentences = [line if line.endswith(("。", "？", "！")) else line + "。" for line in lines if line]
    spoken = "".join(sentences)
    return re.sub(r"、{2,}", "、", re.sub(r"。、|、。", "。", spoken))
