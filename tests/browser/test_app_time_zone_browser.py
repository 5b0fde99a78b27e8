"""The residents' app tells its times by the town's clock (tenants.time_zone), with the zone said,
as the town's site does (docs/configuration.md)."""

from __future__ import annotations

import copy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect

from tests.browser.guards import Guard
from tests.fakes.site import T0, SiteFixture, alert, site_delivery
from tests.helpers import TENANTS
from tests.web_helpers import web_env

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("zone", "lang", "said"), [("Pacific/Honolulu", "en", "HST"), ("Asia/Tokyo", "en", "JST")])
async def test_the_app_gives_its_times_in_the_towns_zone(browser: Browser, tmp_path: Path, zone: str, lang: str, said: str) -> None:
    tenants = copy.deepcopy(TENANTS)
    tenants["anamizu"]["time_zone"] = zone
    channels = {"website": {"options": {"site_dir": str(tmp_path / "www" / "{tenant}")}}}
    guard = Guard()
    async with web_env(tmp_path, channels=channels, tenants=tenants) as e:
        site = SiteFixture(tmp_path / "www" / "anamizu", url=f"{e.base}/site/anamizu/")
        try:
            await site.adapter().send(site_delivery(alert("evac-1", sent=T0)))
            context = await guard.watch(await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US"))
            page = await context.new_page()
            await page.goto(f"{e.base}/app/anamizu/?lang={lang}")
            meta = page.locator("#alerts li[data-id='evac-1'] .meta")
            await expect(meta).to_contain_text(said)
            here = T0.astimezone(ZoneInfo(zone))
            # The hour as the town's clock reads it (Honolulu's is the day before Japan's).
            await expect(meta).to_contain_text(f"{here.hour % 12 or 12}:{here.minute:02d}")
            await context.close()
        finally:
            await site.close()
    guard.check()
