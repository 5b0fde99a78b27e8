"""The functions templates call to say things in the reader's language.

`t(key)` is a fixed phrase; `term(text)` translates wording a telegram carries in Japanese (a
warning name, an intensity, a tsunami condition) when the phrase tables know it and otherwise
returns it as it came, so an unknown name is shown, never dropped. In Japanese, telegram wording
stays exactly as JMA or the town wrote it. Every phrase served is remembered, so a rendering can
say which of them no fluent speaker has reviewed yet.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from broadcaster.model import JST
from broadcaster.render.facts import intensity_code, reading
from broadcaster.render.languages import JA
from broadcaster.render.phrases import Found, PhraseBook, fill

_LEVEL_PREFIX = re.compile(r"^レベル\s*([1-5１-５])\s*(.+)$")
# Suffixes a telegram appends to a name: 大雨警報解除, 避難指示 解除, 大津波警報：発表.
_FULL_WIDTH = frozenset({"ja", "ja-x-easy", "zh-Hans", "zh-Hant"})
_SUFFIX_STATUS = (("解除", "status.lifted"), ("発表", "status.issued"), ("継続", "status.continued"))


class Wording:
    def __init__(self, book: PhraseBook, lang: str) -> None:
        self.book = book
        self.lang = lang
        self.used: dict[str, Found] = {}

    # Templates call these ------------------------------------------------------------------

    def t(self, key: str, **fields: Any) -> str:
        found = self.book.find(key, self.lang)
        if found is None:
            return key
        self.used[key] = found
        return fill(found.text, fields)

    def has(self, key: str) -> bool:
        return self.book.find(key, self.lang) is not None

    def term(self, text: str | None) -> str:
        if not text:
            return ""
        if self.lang == JA:
            return text
        return self._term(text.strip()) or text

    def _term(self, text: str) -> str | None:
        key = self.book.term_key(text)
        if key is not None:
            return self.t(key)
        m = _LEVEL_PREFIX.match(unicodedata.normalize("NFKC", text))
        if m:
            rest = self._term(m.group(2))
            return f"{self.t('level.n', n=m.group(1))} {rest or m.group(2)}"
        for sep in ("：", ":"):
            if sep in text:
                head, _, tail = text.partition(sep)
                a, b = self._term(head.strip()), self._term(tail.strip())
                if a or b:
                    return f"{a or head}{self.t('fmt.colon')}{b or tail}"
        for suffix, key in _SUFFIX_STATUS:
            if text.endswith(suffix) and len(text) > len(suffix):
                name = self._term(text[: -len(suffix)].strip())
                if name:
                    return f"{name}{self.t('fmt.colon')}{self.t(key)}"
        return None

    def intensity(self, value: str | None) -> str:
        code = reading(value)
        if code is None:
            return self.term(value)
        return self.t(f"intensity.{code}")

    def intensity_range(self, low: str | None, high: str | None) -> str:
        """An EEW forecast: 震度6強以上 / 震度5弱～5強."""
        if not low:
            return ""
        if high == "over":
            return self.t("intensity.or_more", intensity=self.intensity(low))
        if high and intensity_code(high) and intensity_code(high) != intensity_code(low):
            return f"{self.intensity(low)}～{self.intensity(high)}"
        return self.intensity(low)

    def when(self, value: datetime | None) -> str:
        if value is None:
            return ""
        t = value.astimezone(JST)
        return self.t("fmt.time", month=t.month, day=t.day, hour=t.hour, minute=f"{t.minute:02d}")

    def join(self, items: Any) -> str:
        return self.t("fmt.list_sep").join(str(i) for i in items if i)

    def places(self, names: Any, limit: int = 8) -> str:
        """Place names (translated where the tables know them), at most `limit`, joined."""
        items = [self.term(str(n)) for n in names if n]
        more = len(items) - limit
        joined = self.join(items[:limit])
        return f"{joined}{self.t('fmt.list_sep')}…" if more > 0 else joined

    def paren(self, text: str | None) -> str:
        if not text:
            return ""
        return f"（{text}）" if self.lang in _FULL_WIDTH else f" ({text})"

    def height(self, value: str | None) -> str:
        if not value:
            return ""
        if self.lang == JA:
            return value
        return self._term(value) or unicodedata.normalize("NFKC", value)

    def level(self, n: int | str | None) -> str:
        return self.t("level.n", n=n) if n else ""

    # The renderer reads these -------------------------------------------------------------

    def unreviewed(self) -> list[str]:
        """Phrases this rendering used that no fluent speaker has reviewed in its language."""
        return sorted(k for k, f in self.used.items() if not f.reviewed or f.lang != self.lang)
