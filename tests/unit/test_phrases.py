"""Phrase tables: complete, consistent, honest about review; CSV out and back in."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from broadcaster.cli import main
from broadcaster.errors import ConfigError
from broadcaster.render.languages import EASY_JA, SUPPORTED, canonical, fallback_chain
from broadcaster.render.phrase_csv import export_csv, import_csv
from broadcaster.render.phrases import MACHINE, REVIEWED, PhraseBook, dump_table, load_table, placeholders
from broadcaster.render.renderer import PROJECT_TEMPLATES
from broadcaster.render.wording import Wording

PHRASES = PROJECT_TEMPLATES / "_phrases"


@pytest.fixture(scope="module")
def book() -> PhraseBook:
    return PhraseBook.load([PHRASES])


def test_every_supported_language_has_a_complete_table(book: PhraseBook) -> None:
    assert set(book.tables) == set(SUPPORTED)
    for lang in SUPPORTED:
        missing = [k for k in book.keys if book.review_state(k, lang) == "missing"]
        assert not missing, f"{lang} lacks {missing[:5]}"


def test_translations_fill_exactly_the_placeholders_of_the_japanese(book: PhraseBook) -> None:
    for lang, rows in book.tables.items():
        for key, p in rows.items():
            assert placeholders(p.text) == placeholders(book.tables["ja"][key].text), (lang, key)


def test_no_machine_ever_reviewed_a_phrase(book: PhraseBook) -> None:
    for rows in book.tables.values():
        for p in rows.values():
            if p.status == REVIEWED:
                assert p.by and p.by.lower() != MACHINE


def test_the_machine_drafts_are_marked_drafted_by_machine(book: PhraseBook) -> None:
    # Everything shipped so far was drafted by a machine: the console must show it as unreviewed.
    for lang in SUPPORTED:
        assert book.unreviewed(lang) == book.keys
        assert {p.by for p in book.tables[lang].values()} == {MACHINE}


def test_a_reviewed_row_by_a_machine_is_refused_at_load(tmp_path: Path) -> None:
    (tmp_path / "ja.yaml").write_text(
        'language: ja\nphrases:\n  level.n: {text: "警戒レベル{n}", status: reviewed, by: machine}\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="names the fluent speaker"):
        PhraseBook.load([tmp_path])


def test_a_translation_with_a_different_placeholder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ja.yaml").write_text('language: ja\nphrases:\n  level.n: {text: "警戒レベル{n}"}\n', encoding="utf-8")
    (tmp_path / "en.yaml").write_text('language: en\nphrases:\n  level.n: {text: "Level {level}"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="fills"):
        PhraseBook.load([tmp_path])


def test_the_file_format_round_trips(book: PhraseBook) -> None:
    for lang in ("ja", "vi", "my"):
        text = dump_table(lang, book.tables[lang], book.keys)
        assert yaml.safe_load(text)["language"] == lang
        path = PHRASES / f"{lang}.yaml"
        assert text == path.read_text(encoding="utf-8"), f"{path} is not in the canonical form"
        assert load_table(path)[1] == book.tables[lang]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("vi-VN", "vi"),
        ("zh-CN", "zh-Hans"),
        ("zh-TW", "zh-Hant"),
        ("zh", "zh-Hans"),
        ("ja-JP", "ja"),
        ("ja-x-easy", EASY_JA),
        ("ja-easy", EASY_JA),
        ("pt-BR", "pt"),
        ("fil", "tl"),
        ("ne-NP", "ne"),
        ("fr", "fr"),
    ],
)
def test_language_tags_are_read_as_their_residents_mean_them(tag: str, expected: str) -> None:
    assert canonical(tag) == expected


def test_a_reader_falls_back_to_easy_japanese_then_japanese(book: PhraseBook) -> None:
    assert fallback_chain("fr") == ("fr", EASY_JA, "ja")
    assert fallback_chain("ja") == ("ja", EASY_JA)
    found = book.find("tsunami.major", "fr")
    assert found is not None and found.lang == EASY_JA


def test_terms_translate_telegram_wording_and_leave_unknown_names_alone(book: PhraseBook) -> None:
    w = Wording(book, "en")
    assert w.term("大津波警報") == "Major Tsunami Warning"
    assert w.term("震度６強") == "Intensity 6 upper"
    assert w.term("レベル４大雨危険警報") == "Alert Level 4 Heavy Rain Danger Warning"
    assert w.term("大津波警報：発表") == "Major Tsunami Warning: issued"
    assert w.term("避難指示解除") == "Evacuation order: lifted"
    assert w.term("小又川") == "小又川"
    assert w.intensity("6+") == "Intensity 6 upper"
    assert w.intensity_range("6+", "over") == "Intensity 6 upper or more"
    assert Wording(book, "ja").term("震度６強") == "震度６強", "Japanese keeps the telegram's own wording"
    assert w.unreviewed() == sorted(w.used)


def _export_rows(book: PhraseBook, langs: list[str]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(export_csv(book, langs))))


def test_export_has_one_row_per_phrase_with_the_japanese_source(book: PhraseBook) -> None:
    rows = _export_rows(book, ["vi"])
    assert len(rows) == len(book.keys)
    first = rows[0]
    assert set(first) == {"key", "note", "ja", "vi", "vi:status", "vi:by"}
    assert first["vi:status"] == "drafted" and first["vi:by"] == MACHINE


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def test_a_reviewer_signs_off_and_an_edit_without_review_stays_drafted(book: PhraseBook) -> None:
    rows = _export_rows(book, ["vi"])
    by_key = {r["key"]: r for r in rows}
    by_key["tsunami.major"].update({"vi:status": "reviewed", "vi:by": "Nguyễn Thị Lan"})
    by_key["tsunami.warning"]["vi"] = "Cảnh báo sóng thần (sửa)"
    result = import_csv(book, _csv(rows), by="translator-a", known_languages=SUPPORTED, today="2025-01-01")
    assert {(p.key, p.status, p.by) for p in result.changed} == {
        ("tsunami.major", "reviewed", "Nguyễn Thị Lan"),
        ("tsunami.warning", "drafted", "machine"),
    }
    new = result.book
    assert new.review_state("tsunami.major", "vi") == "reviewed"
    assert new.phrase("tsunami.major", "vi").reviewed_on == "2025-01-01"  # type: ignore[union-attr]
    assert new.phrase("tsunami.warning", "vi").text == "Cảnh báo sóng thần (sửa)"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"vi:status": "reviewed", "vi:by": ""}, "names the fluent speaker"),
        ({"vi:status": "reviewed", "vi:by": "machine"}, "names the fluent speaker"),
        ({"vi:status": "approved"}, "expected drafted or reviewed"),
        ({"vi": "Cấp {level}"}, "fills"),
        ({"key": "no.such.key"}, "not a phrase"),
    ],
)
def test_a_bad_row_refuses_the_whole_import(book: PhraseBook, edit: dict[str, str], message: str) -> None:
    rows = _export_rows(book, ["vi"])
    row = next(r for r in rows if r["key"] == "level.n")
    row.update(edit)
    rows[0]["vi"] = "changed but fine"
    with pytest.raises(ConfigError, match=message):
        import_csv(book, _csv(rows), by="translator-a", known_languages=SUPPORTED)


def test_an_unknown_language_column_is_refused(book: PhraseBook) -> None:
    with pytest.raises(ConfigError, match="unknown language"):
        import_csv(book, "key,xx\nlevel.n,foo {n}\n", by="t", known_languages=SUPPORTED)


def test_the_cli_exports_imports_and_reports(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    config = tmp_path / "b.toml"
    config.write_text(f'templates_dir = "{templates}"\nvar_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "vi.csv"
    r = runner.invoke(main, ["-c", str(config), "phrases", "export", "--lang", "vi", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    next(x for x in rows if x["key"] == "shelter.opened").update({"vi:status": "reviewed", "vi:by": "Trần Văn Minh"})
    out.write_text(_csv(rows), encoding="utf-8")
    r = runner.invoke(main, ["-c", str(config), "phrases", "import", str(out), "--by", "translator-a"])
    assert r.exit_code == 0, r.output
    assert "vi: 0 drafted, 1 reviewed" in r.output
    written = templates / "_phrases" / "vi.yaml"
    assert "Trần Văn Minh" in written.read_text(encoding="utf-8")
    r = runner.invoke(main, ["-c", str(config), "phrases", "status"])
    assert r.exit_code == 0 and "Trần Văn Minh" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("key,vi,vi:status,vi:by\nshelter.closed,x,reviewed,machine\n", encoding="utf-8")
    r = runner.invoke(main, ["-c", str(config), "phrases", "import", str(bad), "--by", "t"])
    assert r.exit_code != 0 and "nothing imported" in r.output
