"""The phrase tables: the fixed wording of warnings, levels, shelters and missiles, per language.

One YAML file per language in ``<templates>/_phrases/<tag>.yaml``, one row per phrase::

    phrases:
      tsunami.major: {text: "Major Tsunami Warning", status: drafted, by: machine}

``ja.yaml`` is the source every other table translates; its rows may carry a ``note`` for
translators. ``status`` is ``drafted`` (anyone, or a machine, wrote it) or ``reviewed`` (a fluent
speaker checked it, named in ``by``; ``reviewed_on`` is the date). A machine can draft but never review:
a reviewed row by ``machine`` is refused at load, so the console can trust what it shows.

A lookup falls back through the reader's chain (their language, easy Japanese, Japanese) and
says which language it used and how sure we are of it, so a rendering can report its unreviewed
phrases.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from broadcaster.errors import ConfigError
from broadcaster.render.languages import BY_TAG, JA, fallback_chain

PHRASES_DIR = "_phrases"
DRAFTED = "drafted"
REVIEWED = "reviewed"
STATUSES = (DRAFTED, REVIEWED)
ReviewState = Literal["drafted", "reviewed", "missing"]
# Who drafted a row nobody has named: the project's machine drafts.
MACHINE = "machine"
# libyaml's safe loader where installed: five times faster, and tables load at every reload.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KEY = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_+\-]+)*$")


@dataclass(frozen=True, slots=True)
class Phrase:
    key: str
    lang: str
    text: str
    status: str = DRAFTED
    by: str = ""
    reviewed_on: str | None = None  # ISO date
    note: str | None = None  # context for translators (the ja table's rows)

    @property
    def reviewed(self) -> bool:
        return self.status == REVIEWED


@dataclass(frozen=True, slots=True)
class Found:
    """A phrase as served: its text, the language it came from, and whether it was reviewed."""

    key: str
    text: str
    lang: str
    reviewed: bool


def placeholders(text: str) -> frozenset[str]:
    """The {names} a phrase fills in; a translation must use exactly the source's."""
    try:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)
    except ValueError:
        return frozenset({"<unbalanced braces>"})


class _Keep(dict[str, Any]):
    # A value the caller forgot stays visible as {name} rather than raising mid-warning.
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(text: str, fields: Mapping[str, Any]) -> str:
    if not fields and "{" not in text:
        return text
    try:
        return string.Formatter().vformat(text, (), _Keep(fields))
    except (ValueError, IndexError, AttributeError, KeyError):
        return text


def _validated(key: str, lang: str, row: Any, where: str) -> Phrase:
    if not _KEY.match(key):
        raise ConfigError(f"{where}: phrase key {key!r} is not lower.dotted.ascii")
    if isinstance(row, str):
        row = {"text": row}
    if not isinstance(row, Mapping) or not isinstance(row.get("text"), str):
        raise ConfigError(f"{where}: {key}: a row is {{text: ..., status: ..., by: ...}}")
    status = str(row.get("status") or DRAFTED)
    if status not in STATUSES:
        raise ConfigError(f"{where}: {key}: status {status!r}, expected drafted or reviewed")
    by = str(row.get("by") or "")
    if status == REVIEWED and (not by.strip() or by.strip().lower() == MACHINE):
        raise ConfigError(f"{where}: {key}: a reviewed phrase names the fluent speaker who reviewed it")
    unknown = set(row) - {"text", "status", "by", "reviewed_on", "note"}
    if unknown:
        raise ConfigError(f"{where}: {key}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    on = row.get("reviewed_on")
    note = row.get("note")
    return Phrase(
        key=key,
        lang=lang,
        text=row["text"],
        status=status,
        by=by,
        reviewed_on=str(on) if on is not None else None,
        note=str(note) if note is not None else None,
    )


def load_table(path: Path) -> tuple[str, dict[str, Phrase]]:
    """One language's file: its tag and its phrases by key."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a safe loader)
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: {e}") from e
    if not isinstance(data, Mapping) or not isinstance(data.get("phrases"), Mapping):
        raise ConfigError(f"{path}: expected `language:` and `phrases:`")
    lang = str(data.get("language") or path.stem)
    if lang != path.stem:
        raise ConfigError(f"{path}: says language {lang!r}, the file name says {path.stem!r}")
    return lang, {str(k): _validated(str(k), lang, v, str(path)) for k, v in data["phrases"].items()}


@dataclass
class PhraseBook:
    """Every language's phrases. Immutable once built; a reload builds a new one."""

    tables: dict[str, dict[str, Phrase]] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    _terms: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # Japanese fixed terms (大津波警報, 震度6強, 避難所開設) → their keys, so templates can
        # translate a telegram's own wording without knowing the key.
        for key, p in self.tables.get(JA, {}).items():
            if not placeholders(p.text):
                self._terms.setdefault(_norm(p.text), key)

    @classmethod
    def load(cls, dirs: Sequence[Path]) -> PhraseBook:
        """Tables from `dirs`, the first one's rows winning (a deployment's over the project's)."""
        tables: dict[str, dict[str, Phrase]] = {}
        sources: dict[str, Path] = {}
        for d in reversed(dirs):
            if not d.is_dir():
                continue
            for path in sorted(d.glob("*.yaml")):
                lang, rows = load_table(path)
                tables.setdefault(lang, {}).update(rows)
                sources[lang] = path
        book = cls(tables, sources)
        book.validate()
        return book

    def validate(self) -> None:
        source = self.tables.get(JA)
        if source is None:
            raise ConfigError("phrase tables: ja.yaml (the source every language translates) is missing")
        for lang, rows in self.tables.items():
            for key, p in rows.items():
                if key not in source:
                    raise ConfigError(f"phrases {lang}.yaml: {key} is not in ja.yaml")
                if placeholders(p.text) != placeholders(source[key].text):
                    raise ConfigError(
                        f"phrases {lang}.yaml: {key} fills {sorted(placeholders(p.text))}, "
                        f"ja fills {sorted(placeholders(source[key].text))}"
                    )

    @property
    def keys(self) -> list[str]:
        return list(self.tables.get(JA, {}))

    @property
    def languages(self) -> list[str]:
        known = [t for t in BY_TAG if t in self.tables]
        return known + sorted(t for t in self.tables if t not in BY_TAG)

    def phrase(self, key: str, lang: str) -> Phrase | None:
        return self.tables.get(lang, {}).get(key)

    def find(self, key: str, lang: str) -> Found | None:
        for candidate in fallback_chain(lang):
            p = self.phrase(key, candidate)
            if p is not None and p.text:
                return Found(key, p.text, candidate, p.reviewed)
        return None

    def text(self, key: str, lang: str, **fields: Any) -> str:
        found = self.find(key, lang)
        return fill(found.text, fields) if found else key

    def term_key(self, ja_text: str) -> str | None:
        return self._terms.get(_norm(ja_text))

    def review_state(self, key: str, lang: str) -> ReviewState:
        p = self.phrase(key, lang)
        if p is None or not p.text:
            return "missing"
        return "reviewed" if p.reviewed else "drafted"

    def unreviewed(self, lang: str) -> list[str]:
        """Keys a console should flag for `lang`: drafted or missing (served by a fallback)."""
        return [k for k in self.keys if self.review_state(k, lang) != "reviewed"]

    def coverage(self) -> list[dict[str, Any]]:
        """Per language: how many phrases exist, are reviewed, drafted, missing; who reviewed."""
        out = []
        total = len(self.keys)
        for lang in self.languages:
            rows = self.tables[lang]
            reviewed = [p for p in rows.values() if p.reviewed and p.text]
            drafted = [p for p in rows.values() if not p.reviewed and p.text]
            out.append(
                {
                    "language": lang,
                    "total": total,
                    "reviewed": len(reviewed),
                    "drafted": len(drafted),
                    "missing": total - len(reviewed) - len(drafted),
                    "reviewers": sorted({p.by for p in reviewed}),
                }
            )
        return out

    def with_rows(self, rows: Iterable[Phrase]) -> PhraseBook:
        tables = {lang: dict(t) for lang, t in self.tables.items()}
        for p in rows:
            tables.setdefault(p.lang, {})[p.key] = p
        book = PhraseBook(tables, dict(self.sources))
        book.validate()
        return book


def _norm(text: str) -> str:
    # Telegrams write 震度６強 and ５ｍ in full width; tables are written in half width.
    return unicodedata.normalize("NFKC", text).strip()


def dump_table(lang: str, rows: Mapping[str, Phrase], order: Sequence[str]) -> str:
    """A language's file in the one-row-per-phrase form (JSON strings are valid YAML scalars)."""
    name = BY_TAG[lang].native if lang in BY_TAG else lang
    lines = [
        f"# Phrase table: {name} ({lang}). One row per phrase; status drafted|reviewed, by = who.",
        "# Edit here or round-trip through `broadcaster phrases export` / `import` (docs/templates.md).",
        f"language: {lang}",
        "phrases:",
    ]
    keys = [k for k in order if k in rows] + sorted(k for k in rows if k not in order)
    for key in keys:
        p = rows[key]
        fields = [f"text: {_q(p.text)}", f"status: {p.status}", f"by: {_q(p.by)}"]
        if p.reviewed_on:
            fields.append(f"reviewed_on: {_q(p.reviewed_on)}")
        if p.note:
            fields.append(f"note: {_q(p.note)}")
        lines.append(f"  {key}: {{{', '.join(fields)}}}")
    return "\n".join(lines) + "\n"


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def save_tables(book: PhraseBook, directory: Path, langs: Iterable[str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in langs:
        path = directory / f"{lang}.yaml"
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(dump_table(lang, book.tables.get(lang, {}), book.keys), encoding="utf-8")
        tmp.replace(path)  # a template reload never sees half a file
        written.append(path)
    return written

