"""The compose form's 安否確認 tick becomes the alert's safety_check parameter (docs/coverage.md)."""

from __future__ import annotations

from pathlib import Path

from multidict import MultiDict

from broadcaster.web.console.compose import Draft, manual_document, presets
from tests.helpers import make_settings


def _doc(tmp_path: Path, ticked: bool) -> dict[str, object]:
    settings = make_settings(tmp_path)
    tenant = settings.tenants["anamizu"]
    preset = presets(settings, "anamizu")[0]
    form = MultiDict(
        {
            "preset": preset.id,
            "status": "Exercise",
            "districts": "kawashima",
            "headline": "避難指示",
            "description": "避難してください。",
        }
    )
    if ticked:
        form["safety_check"] = "yes"
    return manual_document(Draft.from_form(form), preset, tenant)


def test_the_tick_asks_residents_and_no_tick_asks_nothing(tmp_path: Path) -> None:
    assert _doc(tmp_path, True)["parameters"] == {"safety_check": "yes"}
    assert "safety_check" not in dict(_doc(tmp_path, False).get("parameters") or {})  # type: ignore[call-overload]
