"""Rendering: an alert becomes each channel's text, per language, inside the channel's limits.

Templates are configuration (docs/decisions.md, decision 7); docs/templates.md describes the layout:
``<templates>/<channel>/<kind>.<lang>.j2`` with ``default`` and ``any`` (every language, through
the phrase tables) as fallbacks, tenant overrides in ``tenants/<tenant>/``, what each alert family
says in ``_kinds/``, and the phrase tables in ``_phrases/``. Templates run in Jinja's sandbox with
StrictUndefined, since staff edit them and a typo must fail loudly, not print an empty warning.

Whatever a template says, three things hold:
* an alert that is not Actual carries its 訓練/試験 label at the start of every text, title,
  part and bubble;
* every part fits its channel, and a text that had to be cut says so;
* a template that fails (or a missing one) never stops a warning: the plain facts go out instead
  and ``RenderedText.extra["fallback"]`` says why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from broadcaster.channels import ChannelProfile, RenderedText
from broadcaster.errors import ConfigError
from broadcaster.logging import get_logger
from broadcaster.model import DISTRICT_CODE, KIND, Alert, Dispatch, Info, MsgType, Status
from broadcaster.offloop import Lane
from broadcaster.render.facts import read_facts
from broadcaster.render.fit import Marks, fit, fit_title
from broadcaster.render.flex import bubble
from broadcaster.render.languages import EASY_JA, JA, canonical, fallback_chain
from broadcaster.render.limits import Limits, limits_for
from broadcaster.render.lookup import (
    IndexedLoader,
    TemplateSet,
    channel_candidates,
    kind_library_candidates,
)
from broadcaster.render.phrases import PhraseBook
from broadcaster.render.wording import Wording
from broadcaster.settings import PROJECT_ROOT

log = get_logger(__name__)

PROJECT_TEMPLATES = PROJECT_ROOT / "templates"

# The labels are safety, not wording: they do not come from an editable table.
STATUS_LABELS_JA = {
    Status.EXERCISE: "【訓練】",
    Status.TEST: "【試験】",
    Status.SYSTEM: "【システム】",
    Status.DRAFT: "【下書き】",
}
_LABEL_KEYS = {
    Status.EXERCISE: "label.exercise",
    Status.TEST: "label.test",
    Status.SYSTEM: "label.system",
    Status.DRAFT: "label.draft",
}
_NOTICE_KEYS = {
    Status.EXERCISE: "notice.exercise",
    Status.TEST: "notice.test",
    Status.SYSTEM: "notice.system",
    Status.DRAFT: "notice.draft",
}
# Frames: what the message is (a cancel, an update, a drill) before which family it belongs to.
FRAMES = ("cancel", "update", "drill")
# Channels whose adapters also send HTML (a page, an e-mail, the leaders' circular page).
HTML_CHANNELS = frozenset({"website", "email", "circular"})
_SAFE_NAME = re.compile(r"^[a-z0-9_]{1,40}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BLANKS = re.compile(r"\n{3,}")


def status_label(status: Status, language: str, phrases: PhraseBook | None = None) -> str:
    """The label a non-Actual text starts with: 【訓練】 always, then the reader's own word."""
    ja = STATUS_LABELS_JA.get(status, "")
    if not ja or canonical(language) == JA or phrases is None:
        return ja
    found = phrases.find(_LABEL_KEYS[status], language)
    own = found.text.strip() if found is not None and found.lang != JA else ""
    return f"{ja}{own} " if own else ja


def template_kinds(alert: Alert, dispatch_template: str = "auto") -> tuple[str, str]:
    """(template kind, family): the frame (cancel, update, drill, in that order) or the family,
    and the family.

    The family is the rule's template, else the officer's, else the alert's kind. Names that are
    not plain words are ignored: they come from rule files and alerts, and must not walk the
    template folders.
    """
    info = alert.info[0] if alert.info else None
    chosen = dispatch_template if dispatch_template != "auto" else None
    if chosen is None and info is not None:
        chosen = info.param("broadcaster:template")
    if chosen is None or not _SAFE_NAME.match(chosen):
        kinds = info.event_codes(KIND) if info is not None else ()
        chosen = kinds[0] if kinds and _SAFE_NAME.match(kinds[0]) else "other"
    # What the message does (cancel, update) comes before whether it is a drill: a drill's text is
    # labelled 【訓練】 whatever its template (status_label), but only the frame can say 更新, so
    # a corrected drill must keep the update frame or it reads like a second, separate drill.
    if alert.msg_type is MsgType.CANCEL:
        return "cancel", chosen
    if alert.msg_type is MsgType.UPDATE:
        return "update", chosen
    if alert.status in (Status.EXERCISE, Status.TEST, Status.DRAFT):
        return "drill", chosen
    return chosen, chosen


def template_kind(alert: Alert, dispatch_template: str) -> str:
    return template_kinds(alert, dispatch_template)[0]


@dataclass(frozen=True, slots=True)
class FreeText:
    """What the town or JMA wrote: in the reader's language if given, else Japanese, marked."""

    event: str
    headline: str
    description: str
    instruction: str
    translated: bool
    mark: str  # "(Japanese only)" in the reader's language, "" when translated


@dataclass(frozen=True, slots=True)
class Rendering:
    """One RenderedText and how it came about (for previews and the console)."""

    text: RenderedText
    limits: Limits
    template: str | None
    served: str  # the language the fixed phrases came in
    unreviewed: tuple[str, ...]


def _as_text(value: Any) -> Markup:
    """`value` escaped as text even when it is Markup.

    Jinja marks a macro's output safe when an autoescaping template calls it, although the
    macro (in a plain-text library) escaped nothing: HTML templates pass every macro call
    through this filter (`{{ k.headline()|text }}`).
    """
    return escape(str(value)) if value is not None else Markup("")


def _paragraphs(text: str | None) -> Markup:
    """Escaped text as <p> paragraphs, one per blank-line-separated block, lines joined by <br>.

    The text is escaped even when it is Markup (see _as_text)."""
    if not text:
        return Markup("")
    blocks = [b for b in re.split(r"\n\s*\n", str(text).strip()) if b.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in b.splitlines()))
        for b in blocks
    )


# Channels whose text says everything twice on purpose: an announcement read aloud is repeated
# (「繰り返します。」), as on the town's loudspeakers, for those who missed the first time.
SAID_TWICE = frozenset({"voice"})


def _tidy(text: str, *, once: bool = True) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.strip().split("\n")]
    if once:
        lines = _once(lines)
    # A macro that had nothing to say leaves an empty line; none belongs right under the title.
    while len(lines) > 1 and not lines[1]:
        del lines[1]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


# The town (and a drill's label) before a title: 【穴水町】, 【訓練】[DRILL] [Anamizu Town].
_LEADING_LABELS = re.compile(r"^(?:【[^】]*】|\[[^\]]*\]\s*)+")


def _after_title(body: str, title: str) -> str:
    """A body shown under its own title (a push notification) does not open with the title's
    words again, unless that is all it has to say. A body that carries the title itself is left
    as it is."""
    lines = body.split("\n")
    bare = _LEADING_LABELS.sub("", title).strip()
    if len(lines) > 1 and bare and bare != title.strip() and lines[0].strip() == bare:
        return _BLANKS.sub("\n\n", "\n".join(lines[1:])).strip() or body
    return body


def _stated(line: str) -> bool:
    """A line that states something whole: a sentence, or a 「label：value」 fact."""
    return line.endswith(("。", ".", "！", "!")) or "：" in line or ": " in line


def _once(lines: list[str]) -> list[str]:
    """Each fact once: a sentence or fact line that repeats one of an earlier paragraph is left
    out. JMA's comments often say what the action line above them already said
    (「ただちに避難してください。」, 「この地震による津波の心配はありません。」); a resident reads it
    once. Repeats within one paragraph stay: JMA's own text may list the same value for two
    periods (a typhoon's pressure at 12 and 24 hours)."""
    first: dict[str, int] = {}
    paragraph = 0
    out: list[str] = []
    # A headline that only repeats the title (「【高知市】南海トラフ地震臨時情報（巨大地震警戒）」
    # over 「南海トラフ地震臨時情報（巨大地震警戒）」) says nothing new, in any language's title
    # ([Kochi City] ... as well).
    if (
        len(lines) > 1
        and _LEADING_LABELS.match(lines[0])
        and lines[1].strip() == _LEADING_LABELS.sub("", lines[0]).strip()
    ):
        lines = [lines[0], *lines[2:]]
    for line in lines:
        key = line.strip()
        if not key:
            paragraph += 1
            out.append(line)
            continue
        if key in first and first[key] != paragraph and _stated(key):
            continue
        first.setdefault(key, paragraph)
        out.append(line)
    return out


def _labelled(text: str, label: str) -> str:
    return text if not label or text.startswith(label.strip()) else label + text


def info_in(alert: Alert, lang: str) -> Info | None:
    """The info block written in `lang` (CAP tags such as vi-VN or zh-TW count as theirs)."""
    wanted = canonical(lang)
    for i in alert.info:
        if canonical(i.language) == wanted:
            return i
    return None


class Renderer:
    def __init__(
        self,
        templates_dir: Path,
        *,
        defaults_dir: Path | None = PROJECT_TEMPLATES,
        check_interval_s: float = 2.0,
    ) -> None:
        self.templates_dir = templates_dir
        roots = [templates_dir] + ([defaults_dir] if defaults_dir is not None else [])
        self.templates = TemplateSet(roots, check_interval_s=check_interval_s)
        self.env = SandboxedEnvironment(
            loader=IndexedLoader(self.templates),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
            cache_size=-1,
        )
        self.env.filters["paragraphs"] = _paragraphs
        self.env.filters["text"] = _as_text
        self._resolved: dict[tuple[str, ...], str | None] = {}
        # At start-up a broken phrase table is a configuration error; later, a reload keeps the
        # last good tables (staff mid-edit must not take the wording away).
        self.phrases = PhraseBook.load(self.templates.phrase_dirs())
        # Renders walk template trees and may reload phrase tables: off the event loop, on one
        # thread, as the caches above are not shared between threads (broadcaster/offloop.py).
        self.lane = Lane("render")

    def warm(self) -> int:
        """Compile every listed template now, so the first alert after a start does not pay for
        it (docs/benchmarks.md, *Cold path*); a template that does not compile is left for the
        render that needs it to report. Returns how many compiled."""
        compiled = 0
        for name in list(self.templates.files):
            if not name.endswith(".j2"):
                continue
            try:
                self.env.get_template(name)
            except jinja2.TemplateError:
                continue
            compiled += 1
        return compiled

    # Lookups -------------------------------------------------------------------------------

    def reload(self) -> None:
        """Forget every compiled template and listing (the next render reads the files again)."""
        self.templates.refresh()
        self._reset(phrases=True)

    def _reset(self, *, phrases: bool) -> None:
        if self.env.cache is not None:
            self.env.cache.clear()
        self._resolved.clear()
        if phrases:
            try:
                self.phrases = PhraseBook.load(self.templates.phrase_dirs())
            except ConfigError as e:
                log.error("phrases_reload_failed", error=str(e)[:500])
        log.info("templates_reloaded", generation=self.templates.generation, phrases=phrases)

    def _fresh(self) -> None:
        if self.templates.changed():
            # Templates compile lazily (cheap to forget); the phrase tables take a few hundred
            # milliseconds to load, so only an edit to one of them reloads them.
            self._reset(phrases=any(p.suffix == ".yaml" for p in self.templates.changed_paths))

    def served_language(self, lang: str) -> str:
        """The language a reader of `lang` is served in: theirs when we have its phrases."""
        for candidate in fallback_chain(lang):
            if candidate in self.phrases.tables or candidate == JA:
                return candidate
        return JA

    def resolve(
        self, tenant: str, channel: str, kinds: Sequence[str], lang: str, suffix: str = "j2"
    ) -> str | None:
        key = (tenant, channel, *kinds, lang, suffix)
        if key not in self._resolved:
            langs = [lang, "any"]
            self._resolved[key] = self.templates.first(
                channel_candidates(tenant, channel, kinds, langs, suffix)
            )
        return self._resolved[key]

    def kind_library(self, tenant: str, kind: str, lang: str) -> str | None:
        key = ("_kinds", tenant, kind, lang)
        if key not in self._resolved:
            self._resolved[key] = self.templates.first(kind_library_candidates(tenant, kind, [lang, "any"]))
        return self._resolved[key]

    def find(self, tenant: str, channel: str, kind: str, lang: str) -> jinja2.Template | None:
        self._fresh()
        name = self.resolve(tenant, channel, (kind,), self.served_language(lang))
        if name is None:
            return None
        try:
            return self.env.get_template(name)
        except jinja2.TemplateError:
            return None

    # Rendering -----------------------------------------------------------------------------

    def render(
        self,
        alert: Alert,
        dispatch: Dispatch,
        profile: ChannelProfile | None,
        *,
        tenant_name: str,
        public_url: str,
        languages: Sequence[str] | None = None,
        district_names_en: Mapping[str, str] | None = None,
    ) -> tuple[RenderedText, ...]:
        """One text per language asked for (the reader's first), each within the channel's limits.

        `profile` carries the live adapter's declared limits (None: the channel's own table).
        `district_names_en` are the tenant's English names of its districts (settings' name_en, by
        id): texts in languages other than Japanese name a district area by them, not in kanji.
        """
        rows = self.render_detailed(
            alert,
            dispatch,
            profile,
            tenant_name=tenant_name,
            public_url=public_url,
            languages=languages,
            district_names_en=district_names_en,
        )
        return tuple(r.text for r in rows)

    def render_detailed(
        self,
        alert: Alert,
        dispatch: Dispatch,
        profile: ChannelProfile | None,
        *,
        tenant_name: str,
        public_url: str,
        languages: Sequence[str] | None = None,
        district_names_en: Mapping[str, str] | None = None,
    ) -> list[Rendering]:
        self._fresh()
        limits = limits_for(dispatch.channel, profile)
        wanted = list(dict.fromkeys(languages or dispatch.languages)) or [JA]
        # A reader of another language gets the Japanese text after theirs (route adds "ja"; the
        # adapters send both in order); theirs then points to it instead of repeating it.
        ja_follows = any(canonical(lang) == JA for lang in wanted)
        return [
            self._one(
                alert, dispatch, limits, lang, tenant_name, public_url, ja_follows, district_names_en or {}
            )
            for lang in wanted
        ]

    def _one(
        self,
        alert: Alert,
        dispatch: Dispatch,
        limits: Limits,
        lang: str,
        tenant_name: str,
        public_url: str,
        ja_follows: bool,
        district_names_en: Mapping[str, str] | None = None,
    ) -> Rendering:
        served = self.served_language(lang)
        kind, family = template_kinds(alert, dispatch.template)
        base = public_url.rstrip("/")
        url = f"{base}/alerts/{dispatch.tenant}/{alert.identifier}"
        words = Wording(self.phrases, served)
        label = status_label(alert.status, served, self.phrases)
        extra: dict[str, Any] = {"url": url}
        name = self.resolve(dispatch.tenant, dispatch.channel, (kind, family), served)
        extra["template"] = name
        context: dict[str, Any] = {}
        try:
            if not alert.info:
                raise ValueError("the alert has no info block")
            context = self._context(
                alert, dispatch, kind, family, served, lang, words, tenant_name, url, base, ja_follows
            )
            if served not in (JA, EASY_JA) and district_names_en:
                context["areas"] = _places(context["info"], context["ja"], district_names_en)
            context["label"] = label.strip()
            if name is None:
                raise jinja2.TemplateNotFound(f"{dispatch.channel}/{kind}.{served}")
            module = self.env.get_template(name).make_module(context)
            once = dispatch.channel not in SAID_TWICE
            body = _tidy(str(module), once=once)
            title = _tidy(str(getattr(module, "title", ""))).replace("\n", " ")
            if once:
                body = _after_title(body, title)
            if not body:
                raise ValueError(f"{name} rendered no text")
        except Exception as e:
            # A broken or missing template must never stop a warning (nor any other error in
            # what it calls): send the plain facts, and say in the receipt why they look plain.
            log.error("template_failed", channel=dispatch.channel, kind=kind, lang=lang, error=str(e)[:300])
            extra["fallback"] = f"{type(e).__name__}: {e}"[:500]
            title, body = _plain(alert, tenant_name, url)
        title = fit_title(_labelled(title, label), limits.title_max, label)
        body = _labelled(body, label)
        marks = Marks(
            more=words.t("common.more", url="{url}"),
            continued=words.t("common.continued"),
            number="（{i}/{n}）" if served in (JA, EASY_JA, "zh-Hans", "zh-Hant") else " ({i}/{n})",
        )
        mark_url = {"alert": url, "list": f"{base}/alerts/{dispatch.tenant}", "none": ""}[limits.mark_link]
        # fit() puts the label at the start of every part; the text goes in without it.
        core = body[len(label.strip()) :].lstrip() if label else body
        fitted = fit(core, limits, label=label, url=mark_url, marks=marks)
        if fitted.cut:
            extra["cut"] = True
        if served != canonical(lang):
            extra["served_language"] = served
        html = (
            self._html(dispatch, kind, family, served, context, title, body, label, extra)
            if context
            else None
        )
        if dispatch.channel == "line":
            try:
                extra["flex"], extra["flex_alt_text"] = bubble(
                    alert,
                    title=title,
                    body=fitted.parts[0],
                    url=url,
                    button=words.t("common.open"),
                    level=context.get("level"),
                    label=label,
                )
            except Exception as e:  # the text parts still go out; the bubble is a nicety
                log.error("flex_failed", error=str(e)[:300])
        text = RenderedText(
            language=lang, kind=kind, title=title, body=body, parts=fitted.parts, html=html, extra=extra
        )
        return Rendering(text, limits, name, served, tuple(words.unreviewed()))

    def _html(
        self,
        dispatch: Dispatch,
        kind: str,
        family: str,
        served: str,
        context: dict[str, Any],
        title: str,
        body: str,
        label: str,
        extra: dict[str, Any],
    ) -> str | None:
        if dispatch.channel not in HTML_CHANNELS:
            return None
        name = self.resolve(dispatch.tenant, dispatch.channel, (kind, family), served, suffix="html.j2")
        try:
            if name is None:
                raise jinja2.TemplateNotFound(f"{dispatch.channel}/{kind}.{served}.html.j2")
            html = str(self.env.get_template(name).render({**context, "title": title, "body": body}))
        except Exception as e:
            log.error("html_template_failed", channel=dispatch.channel, kind=kind, error=str(e)[:300])
            extra.setdefault("fallback", f"html: {type(e).__name__}: {e}"[:500])
            html = str(
                Markup('<article class="alert"><h1>{}</h1>\n{}</article>').format(title, _paragraphs(body))
            )
        if label and str(escape(label.strip())) not in html:
            html = str(Markup('<p class="status-label">{}</p>\n').format(label.strip())) + html
        return html

    def _context(
        self,
        alert: Alert,
        dispatch: Dispatch,
        kind: str,
        family: str,
        served: str,
        lang: str,
        words: Wording,
        tenant_name: str,
        url: str,
        base: str,
        ja_follows: bool,
    ) -> dict[str, Any]:
        ja = alert.primary
        own = ja if served == JA else info_in(alert, lang) or info_in(alert, served)
        info = own or ja
        event = own.event if own is not None else words.term(ja.event)
        if own is None and event == ja.event and words.has(f"kind.{family}"):
            # A name the tables do not know: say at least which family it is, then the name.
            event = f"{words.t(f'kind.{family}')}{words.paren(ja.event)}"
        text = FreeText(
            event=event,
            headline=info.headline or "",
            description=info.description or "",
            instruction=info.instruction or "",
            translated=own is not None,
            mark="" if own is not None else words.t("common.ja_only"),
        )
        facts = read_facts(ja, tenant_name)
        notice_key = _NOTICE_KEYS.get(alert.status)
        return {
            "alert": alert,
            "info": info,
            "ja": ja,
            "text": text,
            "facts": facts,
            # The town's own level where a telegram lists it (a prefecture-wide warning names the
            # gravest anywhere), else the alert's.
            "level": facts.local_warning.level
            if facts.local_warning and facts.local_warning.level
            else facts.level,
            "params": {p.value_name: p.value for p in ja.parameter},
            "areas": [a.area_desc for a in info.area] or [a.area_desc for a in ja.area],
            "tenant_name": tenant_name,
            "town": words.term(tenant_name),
            "kind": kind,
            "family": family,
            "frame": kind if kind in FRAMES else None,
            "is_cancel": alert.msg_type is MsgType.CANCEL,
            "is_update": alert.msg_type is MsgType.UPDATE,
            "is_drill": alert.status is not Status.ACTUAL,
            "status": alert.status.value,
            "notice": words.t(notice_key) if notice_key else "",
            "url": url,
            "list_url": f"{base}/alerts/{dispatch.tenant}",
            "channel": dispatch.channel,
            "lang": served,
            "requested_lang": lang,
            "ja_follows": ja_follows and served != JA,
            "kind_lib": self.kind_library(dispatch.tenant, family, served) or "_kinds/default.any.j2",
            "t": words.t,
            "has_phrase": words.has,
            "term": words.term,
            "intensity": words.intensity,
            "intensity_range": words.intensity_range,
            "when": words.when,
            "join": words.join,
            "places": words.places,
            "paren": words.paren,
            "height": words.height,
            "level_name": words.level,
        }


def _plain(alert: Alert, tenant_name: str, url: str) -> tuple[str, str]:
    """The facts without any template: title, the alert's own text, the link."""
    if not alert.info:
        title = f"【{tenant_name}】{alert.identifier}"
        return title, f"{title}\n{url}"
    info = alert.primary
    event = info.headline or info.event
    if alert.msg_type is MsgType.CANCEL:
        event = f"取消：{event}"
    title = f"【{tenant_name}】{event}"
    lines = [title]
    for t in (info.description, info.instruction):
        if t:
            lines.append(t)
    lines.append(url)
    return title, _tidy("\n".join(lines))


def _places(info: Info, ja: Info, names_en: Mapping[str, str]) -> list[str]:
    """The areas as a reader of another language knows them: a district of the town by the English
    name the town set (an officer's alert names it in kanji or by its id), any other area by its own
    text (the templates translate the JMA ones they know)."""
    out: list[str] = []
    for area in info.area or ja.area:
        ids = [c for c in area.codes(DISTRICT_CODE) if c in names_en]
        if ids:
            out.extend(names_en[i] for i in ids)
        else:
            out.append(area.area_desc)
    return list(dict.fromkeys(out))
