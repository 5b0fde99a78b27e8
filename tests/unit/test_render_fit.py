"""Cutting texts to channel limits: sentence ends first, every part labelled, every cut marked."""

from __future__ import annotations

import pytest

from broadcaster.channels import ChannelProfile
from broadcaster.render.fit import ELLIPSIS, Marks, fit, fit_title
from broadcaster.render.limits import CHANNEL_LIMITS, Limits, limits_for, utf16_units, x_weighted

MARKS = Marks(more="…（続きは {url}）", continued="…（続きあり）", number="（{i}/{n}）")
URL = "https://bousai.anamizu.example/alerts/anamizu/a1"
SENTENCE = "能登半島の沿岸にいる人はただちに高台や避難ビルなど安全な場所へ避難してください。"


def test_a_text_that_fits_is_one_part_unchanged() -> None:
    fitted = fit("避難してください。", CHANNEL_LIMITS["x"], label="", url=URL, marks=MARKS)
    assert fitted.parts == ("避難してください。",)
    assert not fitted.cut


def test_no_limit_means_one_part_whatever_the_length() -> None:
    text = SENTENCE * 200
    assert fit(text, CHANNEL_LIMITS["website"], label="", url=URL, marks=MARKS).parts == (text,)


def test_a_thread_breaks_between_sentences_and_is_numbered() -> None:
    text = SENTENCE * 4  # 41 kanji a sentence: 82 weighted, three to a post
    fitted = fit(text, CHANNEL_LIMITS["x"], label="", url=URL, marks=MARKS)
    assert len(fitted.parts) == 2
    assert [p[-5:] for p in fitted.parts] == ["（1/2）", "（2/2）"]
    assert all(p.removesuffix(p[-5:]).endswith("。") for p in fitted.parts), "no sentence is cut"
    assert "".join(p[:-5] for p in fitted.parts) == text
    assert not fitted.cut


def test_every_part_of_a_drill_starts_with_its_label() -> None:
    fitted = fit(SENTENCE * 6, CHANNEL_LIMITS["x"], label="【訓練】", url=URL, marks=MARKS)
    assert len(fitted.parts) > 1
    assert all(p.startswith("【訓練】") for p in fitted.parts)
    assert all(x_weighted(p) <= 280 for p in fitted.parts)


def test_what_does_not_fit_the_last_part_is_replaced_by_a_marked_link() -> None:
    fitted = fit(SENTENCE * 40, CHANNEL_LIMITS["x"], label="", url=URL, marks=MARKS)
    assert fitted.cut
    assert len(fitted.parts) == 4
    assert fitted.parts[-1].endswith(f"…（続きは {URL}）（4/4）")
    assert all(x_weighted(p) <= 280 for p in fitted.parts)


def test_a_push_body_is_cut_with_a_mark_and_no_link() -> None:
    limits = CHANNEL_LIMITS["app_push"]
    fitted = fit(SENTENCE * 10, limits, label="【訓練】", url="", marks=MARKS)
    (part,) = fitted.parts
    assert fitted.cut and part.startswith("【訓練】") and part.endswith("…（続きあり）")
    assert len(part) <= 200
    assert part.removesuffix("…（続きあり）").endswith("。"), "cut at a sentence end"


def test_a_sentence_longer_than_a_part_breaks_at_a_comma_marked_with_an_ellipsis() -> None:
    long_sentence = "、".join(["土砂災害の危険度が非常に高まっています"] * 20) + "。"
    fitted = fit(long_sentence, CHANNEL_LIMITS["bluesky"], label="", url=URL, marks=MARKS)
    first = fitted.parts[0].removesuffix("（1/2）").removesuffix("（1/3）")
    assert first.endswith("、" + ELLIPSIS)
    assert all(len(p) <= 300 for p in fitted.parts)


def test_text_without_any_break_is_cut_between_characters_never_inside_one() -> None:
    # Thai vowels and tone marks are combining characters: a cut must not strand them.
    thai = "น้ำท่วม" * 200
    fitted = fit(thai, Limits("chars", 50, max_parts=3, numbered=True), label="", url="", marks=MARKS)
    for part in fitted.parts:
        body = part.split("（")[0].removesuffix(ELLIPSIS).removesuffix("…")
        assert body and body[0] not in "\u0e49\u0e48\u0e31\u0e33", f"a part starts with a combining mark: {part!r}"
        assert len(part) <= 50


def test_sms_counts_ucs2_units_and_points_to_the_town_page() -> None:
    limits = CHANNEL_LIMITS["sms"]
    town = "https://bousai.anamizu.example/alerts/anamizu"
    fitted = fit(SENTENCE * 8, limits, label="", url=town, marks=MARKS)
    assert all(utf16_units(p) <= 70 for p in fitted.parts)
    assert fitted.cut and town in fitted.parts[-1]


def test_characters_outside_the_bmp_count_twice_in_utf16() -> None:
    assert utf16_units("𠮷野家") == 4
    fitted = fit("𠮷" * 3000, CHANNEL_LIMITS["line"], label="", url=URL, marks=MARKS)
    assert all(utf16_units(p) <= 5000 for p in fitted.parts)


def test_x_counts_urls_as_23_whatever_their_length() -> None:
    long_url = "https://bousai.town.anamizu.lg.jp/" + "a" * 300
    text = "避難してください。" * 12 + long_url  # 216 + 23 weighted: one post
    assert x_weighted(text) == 2 * 9 * 12 + 23
    assert fit(text, CHANNEL_LIMITS["x"], label="", url=URL, marks=MARKS).parts == (text,)


@pytest.mark.parametrize(
    ("channel", "declared", "expected"),
    [
        ("x", 140, 280),  # adapters declare Japanese characters; X weighs them double
        ("x", 100, 200),
        ("line", 5000, 5000),
        ("line", 2000, 2000),
        ("mastodon", 1000, 500),  # a server that allows more still gets our conservative 500
        ("unknown-channel", 99, 99),
        ("website", None, None),
    ],
)
def test_a_live_adapter_can_only_lower_a_limit(channel: str, declared: int | None, expected: int | None) -> None:
    assert limits_for(channel, ChannelProfile("broadcast", declared, None)).max_length == expected


def test_a_long_title_is_cut_at_a_word_and_keeps_its_label() -> None:
    title = "【訓練】【穴水町】" + "警戒レベル4 避難指示・" * 10
    cut = fit_title(title, 50, "【訓練】")
    assert cut.startswith("【訓練】") and cut.endswith(ELLIPSIS) and len(cut) <= 50
    assert fit_title("short", 50, "") == "short"
