"""Phrase tables to CSV for translators, and their work back in.

Export: one row per phrase; columns ``key``, ``note`` and ``ja`` (the source), then for each
language ``<tag>``, ``<tag>:status``, ``<tag>:by``. Translators fill the text; a fluent reviewer
sets ``<tag>:status`` to ``reviewed`` and writes their name in ``<tag>:by``.

Import refuses the whole file on any error, so a half-applied import never reaches residents:
unknown keys or languages, a placeholder the Japanese does not have, a ``reviewed`` row without a
reviewer, or one "reviewed" by a machine. A text that changed without being marked reviewed is
recorded as drafted, by whoever the importer names, even if it was reviewed before.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from broadcaster.errors import ConfigError
from broadcaster.render.languages import JA
from broadcaster.render.phrases import (
    DRAFTED,
    MACHINE,
    REVIEWED,
    STATUSES,
    Phrase,
    PhraseBook,
    placeholders,
)


def export_csv(book: PhraseBook, langs: Sequence[str] | None = None) -> str:
    langs = [lang for lang in (langs or book.languages) if lang != JA]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    header = ["key", "note", JA]
    for lang in langs:
        header += [lang, f"{lang}:status", f"{lang}:by"]
    w.writerow(header)
    for key in book.keys:
        source = book.tables[JA][key]
        row = [key, source.note or "", source.text]
        for lang in langs:
            p = book.phrase(key, lang)
            row += [p.text, p.status, p.by] if p else ["", "", ""]
        w.writerow(row)
    return out.getvalue()


@dataclass
class ImportResult:
    book: PhraseBook
    changed: list[Phrase] = field(default_factory=list)
    languages: set[str] = field(default_factory=set)

    def summary(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for p in self.changed:
            counts = out.setdefault(p.lang, {DRAFTED: 0, REVIEWED: 0})
            counts[p.status] += 1
        return out


def import_csv(
    book: PhraseBook, text: str, *, by: str, known_languages: Iterable[str], today: str | None = None
) -> ImportResult:
    """Apply a translator's CSV. `by` names who supplied drafts that name nobody."""
    if not by.strip():
        raise ConfigError("say who supplies these translations (--by)")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = reader.fieldnames or []
    if "key" not in columns:
        raise ConfigError("the CSV has no `key` column (export one with `broadcaster phrases export`)")
    known = set(known_languages) | set(book.tables)
    langs = [c for c in columns if c not in ("key", "note", JA) and ":" not in c]
    unknown = [lang for lang in langs if lang not in known]
    if unknown:
        raise ConfigError(f"unknown language column(s): {', '.join(unknown)}")
    today = today or date.today().isoformat()
    errors: list[str] = []
    changed: list[Phrase] = []
    for line, row in enumerate(reader, start=2):
        key = (row.get("key") or "").strip()
        if not key:
            continue
        source = book.phrase(key, JA)
        if source is None:
            errors.append(f"line {line}: {key} is not a phrase (ja.yaml has no such key)")
            continue
        for lang in langs:
            p = _row_phrase(book, row, key, lang, source, by, today, line, errors)
            if p is not None:
                changed.append(p)
    if errors:
        raise ConfigError("nothing imported:\n  " + "\n  ".join(errors[:50]))
    return ImportResult(book.with_rows(changed), changed, {p.lang for p in changed})


def _row_phrase(
    book: PhraseBook,
    row: dict[str, str | None],
    key: str,
    lang: str,
    source: Phrase,
    by: str,
    today: str,
    line: int,
    errors: list[str],
) -> Phrase | None:
    text = row.get(lang) or ""
    if not text.strip():
        return None  # an empty cell leaves the table as it is; it never deletes
    status = (row.get(f"{lang}:status") or "").strip().lower() or DRAFTED
    who = (row.get(f"{lang}:by") or "").strip()
    where = f"line {line}: {key} [{lang}]"
    if status not in STATUSES:
        errors.append(f"{where}: status {status!r}, expected drafted or reviewed")
        return None
    if placeholders(text) != placeholders(source.text):
        errors.append(
            f"{where}: fills {sorted(placeholders(text))}, the Japanese fills {sorted(placeholders(source.text))}"
        )
        return None
    old = book.phrase(key, lang)
    if status == REVIEWED:
        if not who or who.lower() == MACHINE:
            errors.append(f"{where}: a reviewed phrase names the fluent speaker who reviewed it")
            return None
    else:
        who = who or by
    if old is not None and old.text == text and old.status == status and old.by == who:
        return None
    if old is not None and old.text == text and status == DRAFTED and old.status == REVIEWED:
        return None  # the translator did not touch a reviewed phrase; keep its review
    on = None
    if status == REVIEWED:
        same_review = old is not None and old.reviewed and old.text == text and old.by == who
        on = old.reviewed_on if same_review and old is not None else today
    return Phrase(key=key, lang=lang, text=text, status=status, by=who, reviewed_on=on)
