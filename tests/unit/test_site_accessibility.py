"""WCAG 2.1 AA checks that need no browser: colour contrast of every styled text, relative sizes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STYLESHEETS = [
    ROOT / "adapters/outbound/website/static/site.css",
    ROOT / "adapters/outbound/website/static/banner.css",
    ROOT / "broadcaster/web/pwa/app.css",
]
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_HEX = r"#([0-9a-fA-F]{6})\b"


def _luminance(hex6: str) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex6[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def pairs(css: str) -> list[tuple[str, str, str]]:
    out = []
    for selector, body in _RULE.findall(re.sub(r"/\*.*?\*/", "", css, flags=re.S)):
        fg = re.search(r"(?<![-\w])color:\s*" + _HEX, body)
        bg = re.search(r"background-color:\s*" + _HEX, body)
        if fg and bg:
            out.append((selector.strip(), fg.group(1), bg.group(1)))
    return out


def test_the_contrast_formula() -> None:
    assert round(contrast("000000", "ffffff"), 1) == 21.0
    assert round(contrast("777777", "ffffff"), 2) == 4.48


@pytest.mark.parametrize("path", STYLESHEETS, ids=lambda p: p.name)
def test_every_text_colour_meets_aa_contrast(path: Path) -> None:
    found = pairs(path.read_text(encoding="utf-8"))
    assert len(found) >= 3, "colours are declared with their backgrounds, rule by rule"
    for selector, fg, bg in found:
        assert contrast(fg, bg) >= 4.5, f"{path.name} {selector}: #{fg} on #{bg} is {contrast(fg, bg):.2f}:1"


@pytest.mark.parametrize("path", STYLESHEETS, ids=lambda p: p.name)
def test_text_sizes_are_relative_so_zoom_and_large_text_scale_them(path: Path) -> None:
    css = path.read_text(encoding="utf-8")
    assert not re.search(r"font-size:\s*\d+(\.\d+)?px", css)
