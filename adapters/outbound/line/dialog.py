"""The resident's settings dialogue on LINE: postback data, what a tap changes, and the replies.

A resident follows the town's account and chooses, with quick-reply buttons (and the rich menu's
areas, which send the same postbacks), their districts, their language and the kinds of
information they take. Nothing here touches the database or the network: `step` says what a
postback changes, and `Dialog` builds the LINE messages in the resident's language from the
phrase tables (templates/_phrases, keys ``line.*`` and ``topic.*``).

Postback data is ours, but it comes back through a phone and is read as hostile: anything that
is not exactly one of our codes is "unknown", and values are checked against the tenant's own
districts, the supported languages and the topic list before they are used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from broadcaster.audience import TOPIC_ALIASES, TOPICS
from broadcaster.render.languages import BY_TAG, EASY_JA, JA, LANGUAGES, SUPPORTED, canonical

# Quick replies: LINE shows at most 13 buttons, each label at most 20 characters.
MAX_ITEMS = 13
MAX_LABEL = 20
DISTRICTS_PER_PAGE = 10
LANGUAGES_PER_PAGE = 11

PREFIX = "ln1"  # the version of our postback format: old buttons in old chats stay readable
_ARG = re.compile(r"^[A-Za-z0-9_-]{0,64}$")
# One letter per action keeps the data short; upper case shows a menu, lower case changes.
_ACTIONS = {
    "m": "menu",
    "D": "districts",
    "d": "district",
    "L": "languages",
    "l": "language",
    "T": "topics",
    "t": "topic",
    "A": "all_topics",
}
_CODES = {v: k for k, v in _ACTIONS.items()}
TOPIC_SLUGS: dict[str, str] = {ja: slug for slug, ja in TOPIC_ALIASES.items() if slug != "notices"}

View = Literal["settings", "districts", "languages", "topics", "help", "districts_fixed"]


@dataclass(frozen=True, slots=True)
class Postback:
    action: str
    arg: str = ""


def encode(action: str, arg: str = "") -> str:
    return f"{PREFIX}:{_CODES[action]}:{arg}"


def decode(data: str | None) -> Postback | None:
    """Our postback, or None for anything else (old formats, forgeries, other bots' data)."""
    if not data or len(data) > 100:
        return None
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != PREFIX or parts[1] not in _ACTIONS or not _ARG.match(parts[2]):
        return None
    return Postback(_ACTIONS[parts[1]], parts[2])


@dataclass(frozen=True, slots=True)
class DistrictChoice:
    id: str
    name: str
    name_en: str | None = None

    def label(self, lang: str) -> str:
        # A Vietnamese reader recognises "Kawashima" on a sign; 川島 only if she reads kanji.
        if lang in (JA, EASY_JA) or not self.name_en:
            return self.name
        return self.name_en


@dataclass(frozen=True, slots=True)
class Prefs:
    """What the dialogue shows and changes of one person (topics empty: every topic)."""

    districts: tuple[str, ...] = ()
    language: str = JA
    topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    prefs: Prefs
    changed: bool
    view: View
    page: int = 0


def _page(arg: str) -> int:
    return int(arg) if arg.isdigit() and len(arg) <= 3 else 0


def step(
    prefs: Prefs, pb: Postback | None, districts: Sequence[DistrictChoice], *, districts_fixed: bool = False
) -> Step:
    """What a tap does: the new preferences and what to show next.

    `districts_fixed`: the person is a district leader or deputy, whose districts are the town's
    roster (they decide which district's circulars the leader gets), not a choice in LINE.
    """
    if pb is None:
        return Step(prefs, False, "help")
    known = [d.id for d in districts]
    if pb.action == "menu":
        return Step(prefs, False, "settings")
    if pb.action in ("districts", "district") and districts_fixed:
        return Step(prefs, False, "districts_fixed")
    if pb.action == "districts":
        return Step(prefs, False, "districts", _page(pb.arg))
    if pb.action == "district":
        if pb.arg not in known:
            return Step(prefs, False, "help")
        chosen = set(prefs.districts) ^ {pb.arg}
        new = replace(prefs, districts=tuple(d for d in known if d in chosen))
        return Step(new, True, "districts", known.index(pb.arg) // DISTRICTS_PER_PAGE)
    if pb.action == "languages":
        return Step(prefs, False, "languages", _page(pb.arg))
    if pb.action == "language":
        tag = canonical(pb.arg)
        if tag not in SUPPORTED:
            return Step(prefs, False, "help")
        return Step(replace(prefs, language=tag), tag != prefs.language, "settings")
    if pb.action == "topics":
        return Step(prefs, False, "topics")
    if pb.action == "topic":
        topic = TOPIC_ALIASES.get(pb.arg)
        if topic is None:
            return Step(prefs, False, "help")
        shown = set(prefs.topics or TOPICS) ^ {topic}
        # None chosen means every topic (docs/audiences.md): unticking the last one is "all".
        topics = () if not shown or shown == set(TOPICS) else tuple(t for t in TOPICS if t in shown)
        return Step(replace(prefs, topics=topics), True, "topics")
    if pb.action == "all_topics":
        return Step(replace(prefs, topics=()), bool(prefs.topics), "settings")
    return Step(prefs, False, "help")


class Phrases(Protocol):
    def text(self, key: str, lang: str, **fields: Any) -> str: ...

    def has(self, key: str) -> bool: ...


def label(text: str) -> str:
    """A button label LINE accepts: at most 20 characters, counted as LINE counts (UTF-16)."""
    text = " ".join(text.split())
    if len(text.encode("utf-16-le")) // 2 <= MAX_LABEL:
        return text
    out = ""
    for ch in text:
        if len((out + ch + "…").encode("utf-16-le")) // 2 > MAX_LABEL:
            break
        out += ch
    return out + "…"


def _postback(text: str, data: str) -> dict[str, Any]:
    return {"type": "action", "action": {"type": "postback", "label": label(text), "data": data}}


class Dialog:
    """The replies of one tenant's account, in the reader's language."""

    def __init__(
        self,
        phrases: Phrases,
        *,
        tenant: str,
        town: str,
        town_en: str | None,
        districts: Sequence[DistrictChoice],
        site_url: str | None = None,
    ) -> None:
        self.phrases = phrases
        self.tenant = tenant
        self._town = town
        self._town_en = town_en
        self.districts = tuple(districts)
        self.site_url = site_url

    def t(self, key: str, lang: str, **fields: Any) -> str:
        return self.phrases.text(key, lang, **fields)

    def town(self, lang: str) -> str:
        if self.phrases.has(f"place.{self.tenant}"):
            return self.t(f"place.{self.tenant}", lang)
        return self._town if lang in (JA, EASY_JA) or not self._town_en else self._town_en

    # -- pieces -----------------------------------------------------------------------------
    def summary(self, prefs: Prefs) -> str:
        lang = prefs.language
        sep = self.t("fmt.list_sep", lang)
        names = {d.id: d.label(lang) for d in self.districts}
        districts = sep.join(names[d] for d in prefs.districts if d in names) or self.t("line.none", lang)
        topics = (
            sep.join(self.topic_name(x, lang) for x in prefs.topics) if prefs.topics else self.t("line.all", lang)
        )
        language = BY_TAG[lang].native if lang in BY_TAG else lang
        return self.t("line.settings", lang, districts=districts, language=language, topics=topics)

    def topic_name(self, topic: str, lang: str) -> str:
        slug = TOPIC_SLUGS.get(topic)
        return self.t(f"topic.{slug}", lang) if slug else topic

    def main_menu(self, lang: str) -> list[dict[str, Any]]:
        items = [
            _postback("🏠 " + self.t("line.btn_districts", lang), encode("districts", "0")),
            _postback("🌐 " + self.t("line.btn_language", lang), encode("languages", "0")),
            _postback("🔔 " + self.t("line.btn_topics", lang), encode("topics")),
        ]
        if self.site_url:
            items.append(
                {"type": "action", "action": {"type": "uri", "label": label("📄 " + self.t("line.btn_site", lang)), "uri": self.site_url}}
            )
        return items

    def _text(self, text: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "text", "text": text[:5000]}
        if items:
            message["quickReply"] = {"items": items[:MAX_ITEMS]}
        return message

    # -- the views ----------------------------------------------------------------------------
    def welcome(self, prefs: Prefs) -> list[dict[str, Any]]:
        lang = prefs.language
        text = self.t("line.welcome", lang, town=self.town(lang)) + "\n\n" + self.summary(prefs)
        return [self._text(text, self.main_menu(lang))]

    def view(self, st: Step) -> list[dict[str, Any]]:
        prefs, lang = st.prefs, st.prefs.language
        head = (self.t("line.saved", lang) + "\n" + self.summary(prefs) + "\n\n") if st.changed else ""
        if st.view == "settings":
            text = (self.t("line.saved", lang) + "\n" if st.changed else "") + self.summary(prefs)
            return [self._text(text, self.main_menu(lang))]
        if st.view == "districts":
            return [self._text(head + self.t("line.choose_districts", lang), self.districts_menu(prefs, st.page))]
        if st.view == "languages":
            return [self._text(head + self.t("line.choose_language", lang), self.languages_menu(st.page))]
        if st.view == "topics":
            return [self._text(head + self.t("line.choose_topics", lang), self.topics_menu(prefs))]
        if st.view == "districts_fixed":
            return self.notice(prefs, "line.districts_fixed")
        return self.help(prefs)

    def help(self, prefs: Prefs) -> list[dict[str, Any]]:
        lang = prefs.language
        return [self._text(self.t("line.help", lang, town=self.town(lang)), self.main_menu(lang))]

    def notice(self, prefs: Prefs, key: str) -> list[dict[str, Any]]:
        """A fixed answer (the leader link's outcome), with the main menu under it."""
        return [self._text(self.t(key, prefs.language), self.main_menu(prefs.language))]

    # -- the menus -----------------------------------------------------------------------------
    def districts_menu(self, prefs: Prefs, page: int) -> list[dict[str, Any]]:
        lang = prefs.language
        pages = max(1, -(-len(self.districts) // DISTRICTS_PER_PAGE))
        page = min(max(page, 0), pages - 1)
        shown = self.districts[page * DISTRICTS_PER_PAGE : (page + 1) * DISTRICTS_PER_PAGE]
        items = []
        if page > 0:
            items.append(_postback("◀ " + self.t("line.btn_back", lang), encode("districts", str(page - 1))))
        for d in shown:
            mark = "✓ " if d.id in prefs.districts else ""
            items.append(_postback(mark + d.label(lang), encode("district", d.id)))
        if page < pages - 1:
            items.append(_postback(self.t("line.btn_more", lang) + " ▶", encode("districts", str(page + 1))))
        items.append(_postback(self.t("line.btn_done", lang), encode("menu")))
        return items

    def languages_menu(self, page: int) -> list[dict[str, Any]]:
        pages = -(-len(LANGUAGES) // LANGUAGES_PER_PAGE)
        page = min(max(page, 0), pages - 1)
        shown = LANGUAGES[page * LANGUAGES_PER_PAGE : (page + 1) * LANGUAGES_PER_PAGE]
        items = []
        # The page buttons carry no words: whoever opens this list may read none of ours.
        if page > 0:
            items.append(_postback("◀", encode("languages", str(page - 1))))
        items.extend(_postback(lang.native, encode("language", lang.tag)) for lang in shown)
        if page < pages - 1:
            items.append(_postback("▶", encode("languages", str(page + 1))))
        return items

    def topics_menu(self, prefs: Prefs) -> list[dict[str, Any]]:
        lang = prefs.language
        chosen = set(prefs.topics or TOPICS)
        items = [
            _postback(("✓ " if topic in chosen else "") + self.topic_name(topic, lang), encode("topic", TOPIC_SLUGS[topic]))
            for topic in TOPICS
        ]
        items.append(_postback(self.t("line.btn_all_topics", lang), encode("all_topics")))
        items.append(_postback(self.t("line.btn_done", lang), encode("menu")))
        return items
