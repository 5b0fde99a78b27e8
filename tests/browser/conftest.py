"""Headless Chromium for the browser tests: Debian's package, driven by Playwright.

Playwright cannot download its own browser here, so the tests launch /usr/bin/chromium (the `dev`
script and CI install it). In CI a missing browser fails the run instead of skipping it, so these
tests can never silently stop running.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str:
    path = os.environ.get("BROADCASTER_CHROMIUM") or "/usr/bin/chromium"
    if Path(path).is_file() or shutil.which(path):
        return path
    if os.environ.get("CI"):
        pytest.fail(f"Chromium is missing at {path}: CI must run the browser tests (see .ci/run)")
    pytest.skip(f"Chromium is not installed at {path} (apt-get install chromium)")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()
