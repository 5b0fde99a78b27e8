"""The town's pages as residents who read English, Vietnamese or Japanese get them, on a 390 px
phone and a 1366 px laptop: the link in a message leads to the page in the browser's language,
`<html lang>` says it, the reader's text comes first and the six others are folded, nothing
scrolls sideways, and the browser reports no console error or CSP violation. The texts are the
real renderer's for the project's 避難指示 sample in the seven languages the site speaks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from broadcaster.channels import Delivery
from broadcaster.model import Alert, MsgType, Status
from tests.browser.accessibility import axe_violations, sideways_overflow
from tests.browser.guards import SHOTS, Guard
from tests.fakes.site import SiteFixture, alert, follow_up
from tests.render_support import PUBLIC_URL, dispatch, renderer, sample
from tests.web_helpers import WebEnv, web_env

pytestmark = pytest.mark.browser

LANGS = ("ja", "ja-x-easy", "en", "vi", "zh-Hans", "ko", "pt")
EVAC = "m-anamizu-evacuation_order"
WIDTHS = (390, 1366)
# The browser's language as a resident's phone sends it, and the page language it must land on.
READERS = (("en-US", "en"), ("vi-VN", "vi"), ("ja-JP", "ja"))


def rendered(a: Alert, audience: str = "public") -> Delivery:
    d = dispatch(a, "website", LANGS).model_copy(update={"audience": audience})
    texts = renderer().render(a, d, None, tenant_name="穴水町", public_url=PUBLIC_URL, languages=LANGS)
    return Delivery(dispatch=d, alert=a, texts=texts)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[WebEnv, SiteFixture]]:
    channels = {"website": {"options": {"site_dir": str(tmp_path / "www" / "{tenant}")}}}
    async with web_env(tmp_path, channels=channels) as e:
        site = SiteFixture(tmp_path / "www" / "anamizu", url=f"{e.base}/site/anamizu/")
        adapter = site.adapter()
        await adapter.send(rendered(sample("manual/evacuation_order.json")))
        # A drill sent later, and graver by its fields: it must still come after the real order.
        drill = alert("drill-1", status=Status.EXERCISE, event="大津波警報", kind="tsunami", districts=())
        await adapter.send(rendered(drill.model_copy(update={"sent": drill.sent.replace(year=2030)})))
        # A one-district order and its cancel, which names no district of its own.
        one = alert("evac-2", districts=("kawashima",))
        await adapter.send(rendered(one, "district:kawashima"))
        await adapter.send(rendered(follow_up(one, "evac-2-c", MsgType.CANCEL, area_desc="全域")))
        yield e, site
        await site.close()


async def _open(page: Page, url: str) -> None:
    await page.goto(url)
    await page.wait_for_load_state("load")


async def _fits(page: Page, name: str) -> list[str]:
    problems = []
    over = await sideways_overflow(page)
    if over > 0:
        problems.append(f"{name}: scrolls {over} px sideways")
    problems += [f"{name}: {v}" for v in await axe_violations(page)]
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"lang-{name}.png"), full_page=True)
    return problems


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("locale", "lang"), READERS)
async def test_the_reader_lands_on_their_language_first_and_it_fits(
    browser: Browser, served: tuple[WebEnv, SiteFixture], width: int, locale: str, lang: str
) -> None:
    e, _ = served
    guard = Guard()
    context = await guard.watch(
        await browser.new_context(locale=locale, viewport={"width": width, "height": 844})
    )
    page = await context.new_page()
    problems: list[str] = []
    folder = "" if lang == "ja" else f"{lang}/"

    # The link every channel's message carries, whatever its language.
    await _open(page, f"{e.base}/alerts/anamizu/{EVAC}")
    assert page.url.endswith(f"/site/anamizu/{folder}alerts/{EVAC}.html"), page.url
    assert await page.get_attribute("html", "lang") == lang
    first = page.locator("main section.message").first
    assert await first.get_attribute("lang") == lang, "the reader's own text comes first"
    assert await first.is_visible()
    folded = page.locator("details.other-languages")
    assert await folded.get_attribute("open") is None, "the other languages are folded"
    assert await folded.locator("section.message").count() == len(LANGS) - 1
    assert not await folded.locator("section.message").first.is_visible()
    height = await page.evaluate("document.documentElement.scrollHeight")
    # All seven languages one under the other made this page over 7,000 px on a phone.
    assert height < 4500, f"the alert page is {height} px tall at {width} px"
    problems += await _fits(page, f"alert-{lang}-{width}")
    await folded.locator("summary").click()
    assert await folded.locator("section.message").first.is_visible()
    problems += await _fits(page, f"alert-{lang}-{width}-open")

    # The list: the real order above the later, graver drill.
    await _open(page, f"{e.base}/site/anamizu/{folder}")
    assert await page.get_attribute("html", "lang") == lang
    links = await page.locator("ul.cards h3 a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert links.index(f"alerts/{EVAC}.html") < links.index("alerts/drill-1.html"), links
    problems += await _fits(page, f"index-{lang}-{width}")

    # The district page, by the district's name in the reader's language.
    name = "川島" if lang == "ja" else "Kawashima"
    await page.locator("nav.districts").get_by_role("link", name=name, exact=True).click()
    assert page.url.endswith(f"/site/anamizu/{folder}districts/kawashima.html")
    assert name in await page.inner_text("h1")
    problems += await _fits(page, f"district-{lang}-{width}")

    # The cancel of the one-district order names that district, not 全域.
    await _open(page, f"{e.base}/alerts/anamizu/evac-2-c")
    assert await page.get_attribute("html", "lang") == lang
    assert name in await page.inner_text("p.areas")
    assert "全域" not in await page.inner_text("main")
    problems += await _fits(page, f"cancel-{lang}-{width}")

    await context.close()
    assert not problems, "\n".join(problems)
    guard.check()


async def test_the_language_switch_works_without_javascript(
    browser: Browser, served: tuple[WebEnv, SiteFixture]
) -> None:
    e, _ = served
    guard = Guard()
    context = await guard.watch(
        await browser.new_context(
            java_script_enabled=False, locale="en-US", viewport={"width": 390, "height": 844}
        )
    )
    page = await context.new_page()
    await _open(page, f"{e.base}/alerts/anamizu/{EVAC}")
    assert await page.get_attribute("html", "lang") == "en"
    await page.locator("nav.languages").get_by_role("link", name="Tiếng Việt").click()
    assert page.url.endswith(f"/site/anamizu/vi/alerts/{EVAC}.html")
    assert await page.get_attribute("html", "lang") == "vi"
    assert await page.locator("main section.message").first.get_attribute("lang") == "vi"
    await page.locator("nav.languages").get_by_role("link", name="日本語").click()
    assert page.url.endswith(f"/site/anamizu/alerts/{EVAC}.html")
    assert await page.get_attribute("html", "lang") == "ja"
    await context.close()
    guard.check()


async def test_every_language_of_every_page_fits_a_phone(
    browser: Browser, served: tuple[WebEnv, SiteFixture]
) -> None:
    e, _ = served
    guard = Guard()
    context = await guard.watch(await browser.new_context(viewport={"width": 390, "height": 844}))
    page = await context.new_page()
    problems: list[str] = []
    for lang in LANGS:
        folder = "" if lang == "ja" else f"{lang}/"
        for name, rel in (
            ("index", ""),
            ("district", "districts/kawashima.html"),
            ("alert", f"alerts/{EVAC}.html"),
        ):
            await _open(page, f"{e.base}/site/anamizu/{folder}{rel}")
            assert await page.get_attribute("html", "lang") == lang
            problems += await _fits(page, f"all-{name}-{lang}-390")
    await context.close()
    assert not problems, "\n".join(problems)
    guard.check()
