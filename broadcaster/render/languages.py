"""Language tags the renderer serves, and the order in which it falls back.

やさしい日本語 (easy Japanese, for residents who read some Japanese but not official wording)
has no registered BCP 47 subtag; the project uses the private-use tag ``ja-x-easy``. It is a
valid xs:language (what CAP's info/language is), so an Alert may carry an info block in it.

A reader gets their own language, else easy Japanese, else Japanese: both Japanese forms are
written by the town, and a reader who asked for a language we do not have is more likely to read
easy Japanese than official Japanese.
"""

from __future__ import annotations

from dataclasses import dataclass

JA = "ja"
EASY_JA = "ja-x-easy"


@dataclass(frozen=True, slots=True)
class Language:
    tag: str
    native: str  # the name its readers know it by
    ja: str  # the name the town's staff know it by


LANGUAGES: tuple[Language, ...] = (
    Language(JA, "日本語", "日本語"),
    Language(EASY_JA, "やさしい にほんご", "やさしい日本語"),
    Language("en", "English", "英語"),
    Language("zh-Hans", "简体中文", "中国語（簡体字）"),
    Language("zh-Hant", "繁體中文", "中国語（繁体字）"),
    Language("ko", "한국어", "韓国語"),
    Language("es", "Español", "スペイン語"),
    Language("pt", "Português", "ポルトガル語"),
    Language("vi", "Tiếng Việt", "ベトナム語"),
    Language("th", "ภาษาไทย", "タイ語"),
    Language("id", "Bahasa Indonesia", "インドネシア語"),
    Language("tl", "Tagalog", "タガログ語"),
    Language("ne", "नेपाली", "ネパール語"),
    Language("km", "ភាសាខ្មែរ", "クメール語"),
    Language("my", "မြန်မာဘာသာ", "ミャンマー語"),
    Language("mn", "Монгол хэл", "モンゴル語"),
)
SUPPORTED: tuple[str, ...] = tuple(lang.tag for lang in LANGUAGES)
BY_TAG: dict[str, Language] = {lang.tag: lang for lang in LANGUAGES}
_LOWER = {tag.lower(): tag for tag in SUPPORTED}

# Other spellings seen in residents' settings, CAP feeds and browsers.
_ALIASES = {
    "ja-easy": EASY_JA,
    "easy-ja": EASY_JA,
    "ja-x-yasashii": EASY_JA,
    "yasashii": EASY_JA,
    "zh": "zh-Hans",
    "zh-cn": "zh-Hans",
    "zh-sg": "zh-Hans",
    "zh-hans-cn": "zh-Hans",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-mo": "zh-Hant",
    "zh-hant-tw": "zh-Hant",
    "fil": "tl",
    "in": "id",  # the withdrawn ISO 639 code some old phones still send
    "mya": "my",
    "khm": "km",
}


def canonical(tag: str) -> str:
    """The supported tag a language tag means ("vi-VN" → "vi", "zh-TW" → "zh-Hant"), else itself."""
    low = tag.strip().replace("_", "-").lower()
    if low in _LOWER:
        return _LOWER[low]
    if low in _ALIASES:
        return _ALIASES[low]
    primary = low.split("-")[0]
    if primary == "zh":
        return "zh-Hant" if any(s in low.split("-") for s in ("hant", "tw", "hk", "mo")) else "zh-Hans"
    if primary == "ja":
        return EASY_JA if "easy" in low or "yasashii" in low else JA
    if primary in _LOWER:
        return _LOWER[primary]
    return _ALIASES.get(primary, tag)


def fallback_chain(tag: str) -> tuple[str, ...]:
    """The languages to try for a reader of `tag`, best first: theirs, easy Japanese, Japanese."""
    return tuple(dict.fromkeys((canonical(tag), EASY_JA, JA)))


def is_japanese(tag: str) -> bool:
    return canonical(tag) == JA
