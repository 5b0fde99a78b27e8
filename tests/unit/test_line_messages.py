"""Packing a delivery's texts into LINE's five messages per request."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.outbound.line.messages import MAX_ALT_TEXT, MAX_MESSAGES, MAX_TEXT, cut, plan
from tests.fakes.deliveries import text

URL = "https://bousai.example/alerts/anamizu/a1"
BUBBLE: dict[str, Any] = {
    "type": "bubble",
    "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "大津波警報"}]},
}


def kinds(messages: list[Any]) -> list[tuple[str, str]]:
    return [(m.language, "flex" if m.flex is not None else "text") for m in messages]


def test_one_language_one_part_is_one_text_message() -> None:
    (m,) = plan([text("避難指示を発令しました。")], URL)
    assert m.as_json() == {"type": "text", "text": "避難指示を発令しました。"}


def test_parts_then_the_bubble_with_the_text_as_alt_text() -> None:
    t = text("本文一 本文二", parts=["本文一", "本文二"], extra={"flex": BUBBLE})
    messages = plan([t], URL)
    assert kinds(messages) == [("ja", "text"), ("ja", "text"), ("ja", "flex")]
    flex = messages[-1].as_json()
    assert flex["altText"] == "本文一 本文二"
    assert flex["contents"] == BUBBLE


def test_vietnamese_then_japanese_both_kept() -> None:
    messages = plan([text("Lệnh sơ tán", language="vi"), text("避難指示")], URL)
    assert [(m.language, m.text) for m in messages] == [("vi", "Lệnh sơ tán"), ("ja", "避難指示")]


def test_over_five_drops_later_bubbles_first_then_joins_parts() -> None:
    vi = text("a b c", language="vi", parts=["a", "b", "c"], extra={"flex": BUBBLE})
    ja = text("d e", parts=["d", "e"], extra={"flex": BUBBLE})
    # 3 + 1 + 2 + 1 = 7: both bubbles go (ja's first), leaving 5 texts.
    messages = plan([vi, ja], URL)
    assert kinds(messages) == [("vi", "text")] * 3 + [("ja", "text")] * 2


def test_joined_parts_when_bubbles_are_not_enough() -> None:
    vi = text("x", language="vi", parts=[f"vi{n}" for n in range(4)])
    ja = text("y", parts=[f"ja{n}" for n in range(4)])
    messages = plan([vi, ja], URL)
    assert [m.text for m in messages] == ["vi0\nvi1\nvi2\nvi3", "ja0\nja1\nja2\nja3"]


def test_cut_only_when_joining_is_not_enough_and_it_says_where_to_read_on() -> None:
    parts = ["あ" * 4000 for _ in range(7)]
    messages = plan([text("".join(parts), parts=parts)], URL)
    assert len(messages) == MAX_MESSAGES
    assert all(len(m.text) <= MAX_TEXT for m in messages)
    assert messages[-1].text.endswith(f"…（続きは{URL}）")
    assert messages[0].text == parts[0]


def test_an_invalid_bubble_is_left_out() -> None:
    messages = plan([text("本文", extra={"flex": {"type": "nonsense"}})], URL)
    assert kinds(messages) == [("ja", "text")]


def test_alt_text_is_cut_to_lines_limit() -> None:
    body = "長" * 3000
    messages = plan([text(body, parts=[body], extra={"flex": BUBBLE})], URL)
    assert len(messages[-1].text) == MAX_ALT_TEXT
    assert messages[-1].text.endswith("…")


def test_cut_leaves_short_text_alone_and_marks_long_text() -> None:
    assert cut("abc", 5, "…") == "abc"
    assert cut("abcdefgh", 5, "…") == "abcd…"


languages = st.sampled_from(["ja", "vi", "en", "zh", "ko", "pt"])
part = st.text(min_size=1, max_size=6000).filter(lambda s: s.strip() != "")


@st.composite
def rendered(draw: st.DrawFn) -> Any:
    parts = draw(st.lists(part, min_size=1, max_size=6))
    flex = draw(st.booleans())
    return text(
        "\n".join(parts), language=draw(languages), parts=parts, extra={"flex": BUBBLE} if flex else {}
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(rendered(), min_size=1, max_size=5, unique_by=lambda t: t.language))
def test_any_delivery_fits_one_request_and_keeps_every_language(texts: list[Any]) -> None:
    messages = plan(texts, URL)
    assert 1 <= len(messages) <= MAX_MESSAGES
    for m in messages:
        limit = MAX_ALT_TEXT if m.flex is not None else MAX_TEXT
        assert 1 <= len(m.text) <= limit
    # Every language is there, in the delivery's order.
    order = [m.language for m in messages if m.flex is None]
    assert list(dict.fromkeys(order)) == [t.language for t in texts]
