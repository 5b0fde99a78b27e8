"""The town's emergency pages in a real browser, with JavaScript off (an old phone, a strict CMS)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from broadcaster.model import MsgType, Status
from tests.fakes.site import SiteFixture, alert, follow_up, site_delivery
from tests.web_helpers import WebEnv, web_env

pytestmark = pytest.mark.browser


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[WebEnv, SiteFixture]]:
    channels = {"website": {"options": {"site_dir": str(tmp_path / "www" / "{tenant}")}}}
    async with web_env(tmp_path, channels=channels) as e:
        site = SiteFixture(tmp_path / "www" / "anamizu", url=f"{e.base}/site/anamizu/")
        adapter = site.adapter()
        quake = alert(
            "quake-1", event="大津波警報", kind="tsunami", description="直ちに高台へ避難してください。"
        )
        await adapter.send(site_delivery(quake))
        evac = alert("evac-1", districts=("kawashima",))
        await adapter.send(site_delivery(evac, audience="district:kawashima"))
        await adapter.send(site_delivery(follow_up(evac, "evac-1-c", MsgType.CANCEL)))
        await adapter.send(
            site_delivery(alert("drill-1", status=Status.EXERCISE, event="避難訓練", kind="notice"))
        )
        yield e, site
        await site.close()


async def _landmarks(page: Page) -> None:
    assert await page.locator("header").count() == 1
    assert await page.locator("main#main").count() == 1
    assert await page.locator("footer").count() == 1
    assert await page.locator("nav").count() >= 1
    assert await page.locator("h1").count() == 1, "one main heading per page"
    assert await page.get_attribute("html", "lang") == "ja"
    assert await page.locator("a.skip[href='#main']").count() == 1


async def test_the_pages_work_without_javascript(
    browser: Browser, served: tuple[WebEnv, SiteFixture]
) -> None:
    e, _ = served
    # A Japanese reader's phone: the message's link leads to the page in the browser's language.
    context = await browser.new_context(
        java_script_enabled=False, viewport={"width": 390, "height": 844}, locale="ja-JP"
    )
    page = await context.new_page()
    await page.goto(f"{e.base}/site/anamizu/")
    await _landmarks(page)
    assert await page.inner_text("h1") == "穴水町の緊急情報"
    titles = await page.locator("ul.cards h3").all_inner_texts()
    assert any("大津波警報" in t for t in titles)
    assert any(t.startswith("訓練") for t in titles), "the drill carries its badge"
    assert not any("避難指示" in t for t in titles), "the cancelled order is off the list"

    # Large text, without JavaScript: the link targets the page itself and CSS does the rest.
    before = await page.eval_on_selector(".page", "el => parseFloat(getComputedStyle(el).fontSize)")
    await page.click("text=文字を大きく")
    after = await page.eval_on_selector(".page", "el => parseFloat(getComputedStyle(el).fontSize)")
    assert after >= before * 1.3

    await page.click("ul.cards a:has-text('大津波警報')")
    await _landmarks(page)
    assert "大津波警報" in await page.inner_text("h1")
    assert "直ちに高台へ避難してください。" in await page.inner_text("main")

    # The cancelled order's page is still there, marked.
    await page.goto(f"{e.base}/alerts/anamizu/evac-1")
    assert page.url.endswith("/site/anamizu/alerts/evac-1.html")
    assert "この情報は取り消されました" in await page.inner_text(".state-box")
    await page.click("text=取消のお知らせを見る")
    assert page.url.endswith("/alerts/evac-1-c.html")

    await page.goto(f"{e.base}/site/anamizu/")
    await page.click("nav.districts >> text=川島")
    await _landmarks(page)
    assert await page.inner_text("h1") == "川島の緊急情報"
    assert await page.locator("nav.districts a[aria-current='page']").inner_text() == "川島"

    await page.goto(f"{e.base}/site/anamizu/alerts/drill-1.html")
    assert "これは訓練です" in await page.inner_text(".drill-note")
    await context.close()


async def test_large_text_is_remembered_with_javascript(
    browser: Browser, served: tuple[WebEnv, SiteFixture]
) -> None:
    e, _ = served
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{e.base}/site/anamizu/")
    normal = await page.eval_on_selector(".page", "el => parseFloat(getComputedStyle(el).fontSize)")
    await page.click("text=文字を大きく")
    await page.click("nav.districts >> text=大町")
    large = await page.eval_on_selector(".page", "el => parseFloat(getComputedStyle(el).fontSize)")
    assert large >= normal * 1.3, "the choice follows the reader to the next page"
    await page.click("text=標準の文字")
    assert await page.eval_on_selector(".page", "el => parseFloat(getComputedStyle(el).fontSize)") == normal
    await context.close()
