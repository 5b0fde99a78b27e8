"""Checks every browser test can run on any page: axe-core and the phone's width.

axe-core is the npm package pinned in tests/browser/axe/package.json and installed from its
package-lock.json by `./dev` and `.ci/run` (never fetched by a test). Playwright evaluates the file in the
page, so the page's Content-Security-Policy stays as strict as residents get it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Page

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"

# axe's impacts, mildest first: moderate or worse fails the test (docs/accessibility.md).
FAILING = ("moderate", "serious", "critical")

PHONE_WIDTH = 390


def axe_source() -> str:
    if not AXE.is_file():
        message = f"axe-core is not installed at {AXE} (./dev installs it with npm ci)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


async def axe_violations(page: Page) -> list[str]:
    """Every violation of impact moderate or above on the page as it is now, one line each."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        # Through the DevTools protocol, not a <script> tag: the page's policy rightly refuses inline
        # scripts, and the test must not loosen it (bypass_csp would hide real violations).
        await page.evaluate("() => { " + axe_source() + "\n; return typeof window.axe; }")
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    found = []
    for v in result["violations"]:
        if v.get("impact") in FAILING:
            targets = [" ".join(n["target"]) for n in v["nodes"][:4]]
            found.append(f"{v['impact']} {v['id']}: {v['help']} at {targets}")
    return found


async def sideways_overflow(page: Page) -> int:
    """How many CSS pixels the page scrolls sideways (0 when it fits the viewport)."""
    width: int = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width


async def check_page(page: Page, name: str) -> list[str]:
    """axe and the sideways scroll of the page as shown, at whatever width the page is open (a
    phone's or an office screen's); problems named by the page."""
    problems = [f"{name}: {v}" for v in await axe_violations(page)]
    over = await sideways_overflow(page)
    viewport = page.viewport_size or {"width": 0}
    if over > 0:
        problems.append(f"{name}: scrolls {over} px sideways at {viewport['width']} px")
    return problems


# Every table sits in a scrolling box that a keyboard can reach and a screen reader can name, and
# no column heading breaks over lines (at 390 px, headings broke one character per line).
_TABLES = """() => {
  const out = [];
  for (const table of document.querySelectorAll("main table")) {
    const box = table.parentElement;
    const what = (table.className || "table") + " #" + [...document.querySelectorAll("main table")].indexOf(table);
    if (!box.classList.contains("table-scroll")) { out.push(what + ": not in a .table-scroll box"); continue; }
    if (box.getAttribute("role") !== "region" || box.tabIndex !== 0
        || !(box.getAttribute("aria-label") || box.getAttribute("aria-labelledby"))) {
      out.push(what + ": its box is not a labelled, focusable region");
    }
    if (table.classList.contains("deliveries")) continue;  // laid out to fit a phone on its own
    for (const th of table.querySelectorAll("thead th")) {
      const text = th.textContent.trim();
      if (!text) continue;
      const range = document.createRange();
      range.selectNodeContents(th);
      const style = getComputedStyle(th);
      const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.6;
      if (range.getBoundingClientRect().height > line * 1.5) out.push(what + ": heading " + text + " breaks over lines");
    }
  }
  return out;
}"""


async def table_problems(page: Page, name: str) -> list[str]:
    found: list[str] = await page.evaluate(_TABLES)
    return [f"{name}: {p}" for p in found]
