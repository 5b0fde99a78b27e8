"""A correction (更新) is marked as such on every medium: the console, the LINE text, the app's
push, the town's site page and the CAP the pipeline carries (msgType Update, referencing the
original)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from playwright.async_api import Browser, Page, expect
from playwright.async_api import Error as PlaywrightError

from broadcaster.cap.write import to_cap
from tests.browser.guards import Guard
from tests.browser.test_console_browser import console_env, login
from tests.helpers import eventually

pytestmark = pytest.mark.browser


async def _send(page: Page, base: str) -> str:
    await page.click("button.primary")
    await page.locator(".status-banner").wait_for()
    for box in ("confirm_warnings", "confirm_actual"):
        if await page.locator(f"form.send input[name={box}]").count():
            await page.check(f"form.send input[name={box}]")
    await page.locator("form.send button[type=submit]").click()
    await page.wait_for_url("**/t/anamizu/alerts/**")
    return page.url.rsplit("/", 1)[1]


async def _approve(page: Page, base: str, alert_id: str) -> None:
    button = page.locator(".held-box form.approve button")

    async def held() -> bool:
        # Until the pipeline has recorded it as held, the alert's page says 処理中 (and may reload
        # itself, which aborts a navigation of ours: then look again).
        try:
            await page.goto(f"{base}/t/anamizu/alerts/{alert_id}")
            await button.wait_for(timeout=2_000)
        except PlaywrightError:
            return False
        return True

    assert await eventually(held, timeout=45)
    await button.click()
    await expect(page.locator("#deliveries")).to_be_visible()


async def test_a_correction_is_marked_on_every_medium(browser: Browser, tmp_path: Path) -> None:
    guard = Guard()
    async with console_env(tmp_path) as env:
        run = env.run
        page = await (await guard.watch(await browser.new_context())).new_page()
        await login(page, env, "tanaka")
        await page.goto(f"{env.base}/t/anamizu/compose")
        await page.select_option("#preset", "evacuation_order")
        await page.check("input[name=districts][value=kawashima]")
        await page.fill("#shelters", "穴水中学校体育館")
        await page.click("button[name=refill]")
        await page.check("input[name=status][value=Actual]")
        original = await _send(page, env.base)
        approver = await (await guard.watch(await browser.new_context())).new_page()
        await login(approver, env, "sato")
        await _approve(approver, env.base, original)

        # A new tab: the author's alert page reloads itself when the approval arrives (live
        # updates), which would interrupt navigating away from it.
        page = await page.context.new_page()
        await page.goto(f"{env.base}/t/anamizu/compose?msg_type=Update&ref={original}")
        await page.fill("#shelters", "穴水小学校")
        await page.click("button[name=refill]")
        update = await _send(page, env.base)
        await _approve(approver, env.base, update)
        await page.reload()
        await expect(page.locator("h1 .badge.update")).to_have_text("更新")

        async def arrived() -> bool:
            return all(
                any(r["alert"] == update for r in run.outbox("anamizu", ch))  # type: ignore[attr-defined]
                for ch in ("line", "website")
            )

        assert await eventually(arrived, timeout=30)
        def texts_of(channel: str) -> list[dict[str, str]]:
            (record,) = [r for r in run.outbox("anamizu", channel) if r["alert"] == update]  # type: ignore[attr-defined]
            assert record["msg_type"] == "Update"
            return list(record["texts"])

        # LINE: the resident's message says 更新 in its first line.
        line = texts_of("line")[0]
        assert line["title"].endswith("（更新）") and line["body"].startswith(line["title"])
        # The town's site (which the app also reads): the page's title and heading.
        site = texts_of("website")[0]
        assert "（更新）" in site["title"] and "（更新）" in site.get("html", site["body"])
        # CAP: msgType Update, referencing the original it corrects.
        stored = await run.ledger.alert("anamizu", update)  # type: ignore[attr-defined]
        cap = etree.fromstring(to_cap(stored))
        ns = {"cap": cap.nsmap[None]}
        assert cap.findtext("cap:msgType", namespaces=ns) == "Update"
        assert original in (cap.findtext("cap:references", namespaces=ns) or "")
        # The console: the update's page and the dashboard's list.
        await page.goto(f"{env.base}/t/anamizu/")
        row = page.locator(f"a[href='/t/anamizu/alerts/{update}']").locator("xpath=ancestor::tr")
        await expect(row.locator(".badge.update")).to_have_text("更新")
        original_row = page.locator(f"a[href='/t/anamizu/alerts/{original}']").locator("xpath=ancestor::tr")
        await expect(original_row.locator(".badge.update")).to_have_count(0)
    guard.check()
