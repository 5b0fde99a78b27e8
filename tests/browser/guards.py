"""Listeners that fail a browser test on any console error, script error or CSP violation.

A CSP violation is what a resident's browser does silently: a style or script the policy blocks
is simply not applied, and the page looks broken only to the person using it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from playwright.async_api import BrowserContext, ConsoleMessage, Error

# Screenshots for a person to look at (docs/developing.md); TEST_SHOTS names a folder to keep them.
SHOTS = Path(os.environ.get("TEST_SHOTS") or Path(tempfile.gettempdir()) / "broadcaster-shots")

_REPORT_CSP = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


class Guard:
    """Collects problems from every page of a browser context."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    async def watch(self, context: BrowserContext) -> BrowserContext:
        await context.add_init_script(_REPORT_CSP)
        context.on("page", self._attach)
        for page in context.pages:
            self._attach(page)
        return context

    def _attach(self, page: object) -> None:
        page.on("console", self._console)  # type: ignore[attr-defined]
        page.on("pageerror", self._error)  # type: ignore[attr-defined]

    def _console(self, message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        # A live page's event stream reconnects on its own; when the test's server has just stopped,
        # that reconnect is refused. It is the test ending, not a fault of the page.
        if "ERR_CONNECTION_REFUSED" in message.text and url.endswith(("/events", "/live")):
            return
        if message.type == "error":
            self.problems.append(f"{message.text} ({url})")

    def _error(self, error: Error) -> None:
        self.problems.append(f"script error: {error.message}")

    def check(self, *, allow: tuple[str, ...] = ()) -> None:
        """Fail on anything seen, except messages containing one of `allow` (an expected 409)."""
        seen = [p for p in self.problems if not any(a in p for a in allow)]
        assert not seen, "the browser reported:\n" + "\n".join(seen)
