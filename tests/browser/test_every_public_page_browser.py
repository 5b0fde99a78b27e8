"""Every page a resident or a district leader opens, on a 390 px phone and on a 1366 px screen:
axe-core finds nothing of impact moderate or above, nothing scrolls sideways, and the browser reports no console error or CSP
violation. The leader's pages: the alert's circular, a routine notice, the district checklist; the
town's site, an alert page, a district page, the cancelled order; the app; the e-mail unsubscribe."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from broadcaster import unsubscribe
from broadcaster.circulars.service import Circulars
from tests.browser.accessibility import PHONE_WIDTH, check_page
from tests.browser.guards import SHOTS, Guard
from tests.browser.test_circular_browser import served as leader_served
from tests.browser.test_site_browser import served as site_served
from tests.fakes.site import SiteFixture
from tests.web_helpers import WebEnv

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": PHONE_WIDTH, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESK = {"viewport": {"width": 1366, "height": 900}}
SCREENS = {"phone": PHONE, "desk": DESK}

__all__ = ["leader_served", "site_served"]


async def _walk(browser: Browser, pages: list[tuple[str, str]], *, screen: str = "phone", javascript: bool = True) -> list[str]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    guard = Guard()
    problems: list[str] = []
    context = await guard.watch(await browser.new_context(java_script_enabled=javascript, **SCREENS[screen]))  # type: ignore[arg-type]
    page: Page = await context.new_page()
    for name, url in pages:
        await page.goto(url)
        await page.wait_for_load_state("load")
        problems.extend(await check_page(page, f"{name} ({screen})"))
        await page.screenshot(path=str(SHOTS / f"{screen}-{name}.png"), full_page=True)
    await context.close()
    problems.extend(guard.problems)
    return problems


@pytest.mark.parametrize("screen", list(SCREENS))
async def test_every_leader_page_on_a_phone_and_a_desk(
    screen: str,
    browser: Browser, leader_served: tuple[WebEnv, Circulars, dict[str, str]]
) -> None:
    _, _, links = leader_served
    pages = [
        ("leader-emergency", links["emergency"]),
        ("leader-routine", links["routine"]),
        ("leader-checklist", links["emergency"].rstrip("/") + "/support"),
    ]
    problems = await _walk(browser, pages, screen=screen)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("screen", list(SCREENS))
async def test_every_resident_page_on_a_phone_and_a_desk(
    screen: str,
    browser: Browser, site_served: tuple[WebEnv, SiteFixture]
) -> None:
    e, _ = site_served
    key = unsubscribe.key_of(e.settings)
    site = f"{e.base}/site/anamizu"
    pages = [
        ("site", f"{site}/"),
        ("site-district", f"{site}/districts/kawashima.html"),
        ("alert-tsunami", f"{site}/alerts/quake-1.html"),
        ("alert-cancelled", f"{site}/alerts/evac-1.html"),
        ("alert-cancel", f"{site}/alerts/evac-1-c.html"),
        ("alert-drill", f"{site}/alerts/drill-1.html"),
        ("app", f"{e.base}/app/anamizu/"),
        ("unsubscribe", f"{e.base}/unsubscribe/anamizu/email"),
        ("unsubscribe-confirm", f"{e.base}/unsubscribe/anamizu/email/{unsubscribe.token(key, 'anamizu', 'a@example.jp')}"),
    ]
    problems = await _walk(browser, pages, screen=screen)
    assert not problems, "\n".join(problems)
