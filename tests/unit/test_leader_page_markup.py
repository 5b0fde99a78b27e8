"""The circular HTML the renderer writes is shown on the leaders' pages, whose CSP allows no
inline style (broadcaster/web/middleware.py): a style attribute there is a CSP violation in every
leader's browser, and the large type it meant to set is lost."""

from __future__ import annotations

import re
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "circular"


def test_no_inline_style_in_the_circular_html() -> None:
    templates = sorted(TEMPLATES.glob("*.html.j2"))
    assert templates
    for path in templates:
        assert not re.search(r"\sstyle=", path.read_text(encoding="utf-8")), path.name
    rendered = [p for p in GOLDEN.glob("*.txt") if '<article class="circular' in p.read_text(encoding="utf-8")]
    assert rendered, "the golden files show the circular HTML"
    for path in rendered:
        for block in re.findall(r'<article class="circular.*?</article>', path.read_text(encoding="utf-8"), re.S):
            assert " style=" not in block, path.name
