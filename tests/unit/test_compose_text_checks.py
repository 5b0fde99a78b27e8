"""The preview's warnings: placeholders, areas the text and the target disagree on, levels."""

from __future__ import annotations

from typing import Any

import pytest

from broadcaster.settings import TenantSettings
from broadcaster.web.console.text_checks import check

TOWN = TenantSettings.model_validate(
    {
        "id": "anamizu",
        "name": "穴水町",
        "districts": [{"id": "kawashima", "name": "川島"}, {"id": "omachi", "name": "大町"}],
    }
)


def _doc(headline: str, districts: list[str], level: int | None = 4, description: str = "") -> dict[str, Any]:
    return {
        "headline": headline,
        "description": description,
        "districts": [{"id": d} for d in districts],
        "level": level,
    }


@pytest.mark.parametrize(
    ("doc", "codes"),
    [
        (_doc("【警戒レベル４】川島地区に避難指示", ["kawashima"]), []),
        (
            _doc("【警戒レベル４】川島地区に避難指示", ["kawashima"], description="避難所：（避難所名）"),
            ["placeholder"],
        ),
        (_doc("川島地区に避難指示 {shelters}", ["kawashima"]), ["placeholder"]),
        (_doc("【警戒レベル４】町内全域に避難指示", ["kawashima"]), ["whole_town", "target_not_named"]),
        (_doc("【警戒レベル４】川島地区・大町地区に避難指示", ["kawashima"]), ["area_not_targeted"]),
        (_doc("【警戒レベル４】川島地区に避難指示", ["kawashima", "omachi"]), ["target_not_named"]),
        (_doc("【警戒レベル４】川島地区に避難指示", []), ["area_not_targeted"]),
        (_doc("【警戒レベル３】川島地区に高齢者等避難", ["kawashima"], level=4), ["level"]),
        (_doc("警戒レベル4 川島地区", ["kawashima"], level=None), ["level"]),
        (_doc("町内全域に避難指示", [], level=None), []),
    ],
)
def test_warnings(doc: dict[str, Any], codes: list[str]) -> None:
    assert sorted(w.code for w in check(doc, TOWN)) == sorted(codes)
