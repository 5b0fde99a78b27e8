"""Open pages follow what happens without a reload (docs/website.md, *Live pages*; docs/circulars.md): the district
leader's circular when the town cancels or updates it, and the town's site when a message is
cancelled. A reader of one town hears nothing of another's.

Each test opens the page, marks the window (a reload would lose the mark), changes things through
the channel that does it in a deployment (the circular board, the website publisher), and waits
for the page to show it. Console errors and CSP violations fail the test.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, expect

from adapters.outbound.website import WebsiteAdapter, WebsiteSettings
from adapters.outbound.website.render import Site
from broadcaster.circulars import store as cs
from broadcaster.circulars.board import CircularBoard
from broadcaster.circulars.service import Circulars
from broadcaster.model import MsgType
from broadcaster.store.audiences import Audiences
from broadcaster.web.keys import CONTEXT
from tests.browser.guards import Guard
from tests.circular_helpers import LINK_KEY, add_people
from tests.contract.test_circulars_contract import delivery_of, evacuation
from tests.fakes.site import SiteFixture, alert, follow_up, site_delivery
from tests.web_helpers import WebEnv, web_env

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
# Generous: the machine running the suite may be busy; each wait ends as soon as the page changes.
WAIT = 30_000


async def _mark(page: Page) -> None:
    await page.evaluate("window.__notReloaded = true")


async def _still_marked(page: Page) -> bool:
    return bool(await page.evaluate("window.__notReloaded === true"))


@pytest.fixture
async def leader(tmp_path: Path) -> AsyncIterator[tuple[WebEnv, Circulars]]:
    async with web_env(tmp_path, circulars={"link_key": LINK_KEY}) as e:
        # The process's own circulars (broadcaster/app.py), which the leader's pages read.
        svc = e.app[CONTEXT].runtime.circulars
        await add_people(Audiences(e.ledger.db))
        yield e, svc


async def _leader_link(svc: Circulars, alert_id: str) -> str:
    (c,) = [c for c in await cs.circulars_of(svc.db, "anamizu") if c.alert_id == alert_id]
    (d,) = await cs.deliveries(svc.db, c.id)
    return svc.link(d.id, d.link_version)


async def test_a_cancelled_circular_stops_asking_on_the_open_page(
    browser: Browser, leader: tuple[WebEnv, Circulars]
) -> None:
    _, svc = leader
    board = CircularBoard(svc)
    original = evacuation()
    await svc.ledger.record_alert(original)
    await board.send(delivery_of(original, "leaders:kawashima", ("L-yamada",)))
    guard = Guard()
    context = await guard.watch(await browser.new_context(**PHONE))  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(await _leader_link(svc, original.identifier))
    await expect(page.get_by_role("button", name="確認しました")).to_be_visible()
    # The stream is open (its first event came) before the town acts.
    await expect(page.locator("html")).to_have_attribute("data-live-state", "released", timeout=WAIT)
    await _mark(page)
    await page.get_by_label("無事を確認した世帯").fill("3")

    cancel = evacuation("m-anamizu-evac-2", MsgType.CANCEL, (original.reference_key,))
    await board.send(delivery_of(cancel, "leaders:kawashima", ("L-yamada",)))

    await expect(page.locator("[role=alert]")).to_contain_text("取り消されました", timeout=WAIT)
    await expect(page.get_by_role("button", name="確認しました")).to_have_count(0)
    await expect(page.get_by_role("button", name="回答を送る")).to_have_count(0)
    await expect(page.get_by_label("無事を確認した世帯")).to_have_count(0)
    assert await _still_marked(page), "the page was reloaded instead of following by itself"
    guard.check()
    await context.close()


async def test_an_updated_circular_points_to_the_new_one_on_the_open_page(
    browser: Browser, leader: tuple[WebEnv, Circulars]
) -> None:
    _, svc = leader
    board = CircularBoard(svc)
    original = evacuation()
    await svc.ledger.record_alert(original)
    await board.send(delivery_of(original, "leaders:kawashima", ("L-yamada",)))
    guard = Guard()
    context = await guard.watch(await browser.new_context(**PHONE))  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(await _leader_link(svc, original.identifier))
    await expect(page.locator("html")).to_have_attribute("data-live-state", "released", timeout=WAIT)
    await _mark(page)

    update = evacuation("m-anamizu-evac-2", MsgType.UPDATE, (original.reference_key,))
    await svc.ledger.record_alert(update)
    await board.send(delivery_of(update, "leaders:kawashima", ("L-yamada",)))

    await expect(page.locator("[role=alert]")).to_contain_text("新しい内容に更新されました", timeout=WAIT)
    # The old circular asks nothing: the answers go to the new one.
    await expect(page.get_by_role("button", name="確認しました")).to_have_count(0)
    await expect(page.get_by_role("button", name="回答を送る")).to_have_count(0)
    assert await _still_marked(page)
    guard.check()
    await context.close()


@pytest.fixture
async def sites(tmp_path: Path) -> AsyncIterator[tuple[WebEnv, SiteFixture, WebsiteAdapter]]:
    channels = {"website": {"options": {"site_dir": str(tmp_path / "www" / "{tenant}")}}}
    async with web_env(tmp_path, channels=channels) as e:
        site = SiteFixture(tmp_path / "www" / "anamizu", url=f"{e.base}/site/anamizu/")
        anamizu = site.adapter()
        await anamizu.send(site_delivery(alert("evac-1", districts=("kawashima",))))
        # Another town of the same deployment, with its own site.
        wajima_url = f"{e.base}/site/wajima/"
        wajima = WebsiteAdapter(
            WebsiteSettings(site_dir=tmp_path / "www" / "wajima", site_url=wajima_url),
            Site(tenant="wajima", name="輪島市", url=wajima_url),
            clock=site.clock,
        )
        quake = alert("wajima-quake-1", event="大津波警報", kind="tsunami").model_copy(
            update={"tenant": "wajima"}
        )
        await wajima.send(site_delivery(quake))
        try:
            yield e, site, anamizu
        finally:
            await wajima.close()
            await site.close()


async def _listening(page: Page) -> str:
    """The release the page's stream reported first (it is connected)."""
    live = page.locator("#live")
    await expect(live).to_have_attribute("data-release", re.compile(r"\S"), timeout=WAIT)
    return str(await live.get_attribute("data-release"))


async def test_a_cancel_shows_on_the_open_alert_page_and_the_index_and_not_in_another_town(
    browser: Browser, sites: tuple[WebEnv, SiteFixture, WebsiteAdapter]
) -> None:
    e, _, anamizu = sites
    guard = Guard()
    # A Japanese reader: the message's link lands in the browser's language.
    context = await guard.watch(await browser.new_context(locale="ja-JP", **PHONE))  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(f"{e.base}/alerts/anamizu/evac-1")
    await expect(page.locator(".state-box")).not_to_contain_text("取り消されました")
    index = await context.new_page()
    await index.goto(f"{e.base}/site/anamizu/")
    await expect(index.locator("ul.cards")).to_contain_text("避難指示")
    # A reader whose browser asks for English lands on the English page (under en/): its stream is
    # the same town's, and its line is in English.
    english_context = await guard.watch(await browser.new_context(locale="en-US", **PHONE))  # type: ignore[arg-type]
    english = await english_context.new_page()
    await english.goto(f"{e.base}/alerts/anamizu/evac-1")
    assert "/en/" in english.url
    other = await context.new_page()
    await other.goto(f"{e.base}/site/wajima/")
    await expect(other.locator("ul.cards")).to_contain_text("大津波警報")
    for p in (page, index, other, english):
        await _listening(p)
        await _mark(p)
    wajima_release = await _listening(other)
    wajima_before = await other.inner_html("main")

    original = alert("evac-1", districts=("kawashima",))
    started = time.monotonic()
    await anamizu.send(site_delivery(follow_up(original, "evac-1-c", MsgType.CANCEL)))

    await expect(page.locator(".state-box")).to_contain_text("この情報は取り消されました", timeout=WAIT)
    # For a person reading the run: publish to the open page showing it (the stream looks every 2 s).
    print(f"cancel published to open page changed: {time.monotonic() - started:.2f} s")
    await expect(page.locator("#live")).to_contain_text("更新されました")
    # The time said is the town's clock: an aware time in the stream, shown as HH:MM.
    await expect(page.locator("#live")).to_contain_text(re.compile(r"（\d\d:\d\d）"))
    # The cancelled order leaves the messages in force (it stays in the history, marked 取消).
    await expect(index.locator("main")).to_contain_text("発表中の緊急情報はありません", timeout=WAIT)
    await expect(index.locator("#live")).to_contain_text("更新されました")
    await expect(english.locator(".state-box")).to_contain_text("This message was cancelled.", timeout=WAIT)
    await expect(english.locator("#live")).to_contain_text("This page was updated")
    for p in (page, index, english):
        assert await _still_marked(p), "the page was reloaded instead of following by itself"

    # 輪島市's reader heard nothing of 穴水町's publish: same release, same page, nothing said.
    assert await other.locator("#live").get_attribute("data-release") == wajima_release
    assert await other.inner_html("main") == wajima_before
    await expect(other.locator("#live")).to_have_text("")
    guard.check()
    await english_context.close()
    await context.close()


async def test_a_cancel_published_before_the_stream_opens_still_shows(
    browser: Browser, sites: tuple[WebEnv, SiteFixture, WebsiteAdapter]
) -> None:
    """A slow phone network: the page arrives, the cancel is published, and only then does the
    page's stream connect. Its first event names a release newer than the page, which follows."""
    e, _, anamizu = sites
    guard = Guard()
    context = await guard.watch(await browser.new_context(locale="ja-JP", **PHONE))  # type: ignore[arg-type]
    page = await context.new_page()
    asked, go = asyncio.Event(), asyncio.Event()

    async def slow(route: Route) -> None:
        asked.set()
        await go.wait()
        await route.continue_()

    await page.route("**/site/anamizu/live", slow)
    await page.goto(f"{e.base}/site/anamizu/")
    await expect(page.locator("ul.cards")).to_contain_text("避難指示")
    await asyncio.wait_for(asked.wait(), WAIT / 1000)
    await _mark(page)
    original = alert("evac-1", districts=("kawashima",))
    await anamizu.send(site_delivery(follow_up(original, "evac-1-c", MsgType.CANCEL)))
    go.set()

    await expect(page.locator("main")).to_contain_text("発表中の緊急情報はありません", timeout=WAIT)
    await expect(page.locator("#live")).to_contain_text("更新されました")
    assert await _still_marked(page)
    guard.check()
    await context.close()
