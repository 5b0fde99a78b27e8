"""What a resident types on LINE instead of tapping the quick reply (broadcaster/safety_links.py)."""

from __future__ import annotations

import pytest

from broadcaster import safety_links


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("無事", ("safe", None)),
        ("無事です", ("safe", None)),
        ("「無事」", ("safe", None)),
        ("ぶじ!", ("safe", None)),
        ("無事 公民館にいます", ("safe", "公民館にいます")),
        ("避難済み、公民館", ("evacuated", "公民館")),
        ("支援が必要です。足が悪くて動けません", ("need_help", "足が悪くて動けません")),
        ("無事かな", None),
        ("無事かどうか分かりません", None),
        ("こんにちは", None),
        ("", None),
        (None, None),
    ],
)
def test_a_typed_answer_is_read_only_when_it_starts_with_an_answer(
    typed: str | None, expected: tuple[str, str | None] | None
) -> None:
    assert safety_links.parse_typed(typed) == expected
