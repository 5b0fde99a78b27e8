"""The 緊急速報メール and Jアラート受信機 pages in a real browser, on a desk screen (1366 px) and on a
phone (390 px): nothing wider than the screen, the copy buttons copy the exact text, and the
confirmation records the officer."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from broadcaster.model import now
from broadcaster.signing import sign
from broadcaster.store import handoffs
from tests.canaries import canary
from tests.integration.test_area_mail_console import seed
from tests.web_helpers import PASSWORD, WebEnv, web_env

pytestmark = pytest.mark.browser

SECRET = canary("jalert-browser-key")
SCREENS = {"desk": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[WebEnv]:
    async with web_env(tmp_path, hooks={"jalert": {"keys": {"anamizu-rx": {"secret": SECRET, "tenant": "anamizu"}}}}) as e:
        yield e


async def login(page: Page, env: WebEnv, user: str) -> None:
    await page.goto(f"{env.base}/login")
    await page.fill("#username", user)
    await page.fill("#password", PASSWORD)
    await page.fill("#code", env.code(user))
    await page.click("button[type=submit].primary")
    await expect(page.locator("h1")).to_contain_text("担当する自治体")


async def overflow(page: Page) -> int:
    width: int = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    return width


@pytest.mark.parametrize("screen", sorted(SCREENS))
async def test_an_officer_copies_each_carriers_text_and_confirms_it(browser: Browser, env: WebEnv, screen: str) -> None:
    keys = await seed(env)
    context = await browser.new_context(viewport=SCREENS[screen], permissions=["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    try:
        await login(page, env, "tanaka")
        await page.goto(f"{env.base}/t/anamizu/")
        await expect(page.locator(".handoff-banner")).to_contain_text("送信待ち: 2")
        await page.click(".handoff-banner a")
        await expect(page.locator("h1")).to_contain_text("緊急速報メール")
        assert await overflow(page) <= 0, f"wider than the {screen} screen"
        body = page.locator(f"#b-{keys[0]}")
        await expect(body).to_have_value("穴水町です。\n避難指示：川島\n危険な場所から全員避難してください。")
        await page.click(f"[data-copy='b-{keys[0]}']")
        await expect(page.locator(f"[data-copy='b-{keys[0]}']")).to_have_attribute("data-copied", "1")
        assert await page.evaluate("navigator.clipboard.readText()") == await body.input_value()
        await page.click(f"[data-copy='t-{keys[0]}']")
        assert await page.evaluate("navigator.clipboard.readText()") == "穴水町：避難指示"
        confirm = page.locator("button.confirm-sent")
        await expect(confirm).to_have_count(2)
        box = await confirm.first.bounding_box()
        assert box is not None and box["height"] >= 40, "a big enough target at 3 a.m."
        await confirm.first.click()
        await expect(page.locator("button.confirm-sent")).to_have_count(1)
        await expect(page.locator("table")).to_contain_text("tanaka")
        assert await overflow(page) <= 0
    finally:
        await context.close()
    confirmed = [r for r in await handoffs.listed(env.ledger.db, "anamizu") if r.confirmed]
    assert [r.key for r in confirmed] == [keys[0]]


@pytest.mark.parametrize("screen", sorted(SCREENS))
async def test_the_receivers_page_fits_the_screen_and_says_silent_plainly(browser: Browser, env: WebEnv, screen: str) -> None:
    body = json.dumps(
        {"format": "jalert-health/1", "at": now().isoformat(), "receivers": [
            {"name": "rx1", "last_heard": (now() - timedelta(days=120)).isoformat(), "last_via": "contact",
             "last_test": (now() - timedelta(days=120)).isoformat(), "heard": 2, "quarantined": 0},
            {"name": "rx2", "last_heard": now().isoformat(), "last_via": "mail", "heard": 9, "quarantined": 1}]}
    ).encode()
    headers = sign(SECRET.encode(), "anamizu-rx", "POST", "/ingest/jalert/health", body, timestamp=int(time.time()))
    async with aiohttp.ClientSession() as s, s.post(f"{env.base}/ingest/jalert/health", data=body, headers=headers) as r:
        assert r.status == 204
    context = await browser.new_context(viewport=SCREENS[screen])
    page = await context.new_page()
    try:
        await login(page, env, "viewer")
        await page.goto(f"{env.base}/t/anamizu/")
        await page.click("nav.tenant-nav a[href$='/jalert']")
        await expect(page.locator("h1")).to_contain_text("Jアラート受信機")
        rows = page.locator("table.receivers tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(0)).to_contain_text("長期間無信号")
        await expect(rows.nth(1)).to_contain_text("正常")
        assert await overflow(page) <= 0, f"wider than the {screen} screen"
    finally:
        await context.close()
