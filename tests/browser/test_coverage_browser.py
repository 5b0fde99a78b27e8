"""On a 390 px phone: a leader opens the coverage circular's link (as from LINE), tells the
households not reached and marks three people of the support list, and sees the counts change;
an officer's coverage page shows the district turn from red to green."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pyotp
import pytest
from playwright.async_api import Browser, expect

from broadcaster.circulars import store as cs
from broadcaster.circulars.chain import Chain
from broadcaster.coverage import flags, support
from broadcaster.coverage.support import Entry
from broadcaster.store.audiences import Audiences, Person
from broadcaster.web.keys import CONTEXT
from tests.browser.guards import SHOTS
from tests.circular_helpers import LINK_KEY, add_people
from tests.rules_helpers import manual
from tests.web_helpers import PASSWORD, WebEnv, web_env

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
HOUSEHOLDS = [
    Person(
        "R-1",
        name="川島 一郎",
        districts=("kawashima",),
        household="k1",
        address="川島イ-1",
        endpoints=(("phone", "0768520101"),),
    ),
    Person(
        "R-2",
        name="岩田 三郎",
        districts=("kawashima",),
        household="k2",
        address="川島ロ-5",
        endpoints=(("phone", "0768520102"),),
    ),
]
LIST = [
    Entry("S-1", "kawashima", "能登 ハナ", "川島イ-3", "車いす", "長男 090-0000-0001", consent=True),
    Entry("S-2", "kawashima", "輪島 タロウ", "川島ロ-2", "目が不自由", None, consent=False),
    Entry("S-3", "kawashima", "中谷 トメ", "川島ハ-9", "歩行が困難", "民生委員", consent=True),
]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[WebEnv, str, str]]:
    async with web_env(tmp_path, circulars={"link_key": LINK_KEY}, coverage={"flag_after_min": 0}) as e:
        # The process's own circulars (broadcaster/app.py): the web context is frozen.
        svc = e.app[CONTEXT].runtime.circulars
        await add_people(Audiences(e.ledger.db))
        await Audiences(e.ledger.db).import_people("anamizu", HOUSEHOLDS)
        await support.replace_list(e.ledger.db, "anamizu", LIST)
        alert = manual(status="Actual", kind="evacuation", event="避難指示", headline="川島地区に避難指示",
                       at=svc.clock() - timedelta(minutes=5))  # fmt: skip
        await e.ledger.record_alert(alert, state="routed")
        made = await flags.sweep(svc)
        link = ""
        for cid in made:
            await Chain(svc).run("anamizu", cid)
            for d in await cs.deliveries(e.ledger.db, cid):
                if d.name == "山田太郎":
                    link = svc.link(d.id, d.link_version)
        assert link
        yield e, link, alert.identifier


async def test_a_leader_on_a_phone_and_an_officer_watching(
    browser: Browser, served: tuple[WebEnv, str, str], tmp_path: Path
) -> None:
    e, link, alert_id = served
    officer = await (await browser.new_context()).new_page()
    await officer.goto(f"{e.base}/login")
    await officer.fill("#username", "viewer")
    await officer.fill("#password", PASSWORD)
    await officer.fill("#code", pyotp.TOTP(e.secrets["viewer"]).now())
    await officer.click("button[type=submit].primary")
    coverage = f"{e.base}/t/anamizu/alerts/{quote(alert_id, safe='')}/coverage"
    await officer.goto(coverage)
    await expect(officer.locator('tr[data-district="kawashima"]')).to_have_class("coverage-flagged")

    context = await browser.new_context(java_script_enabled=False, **PHONE)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(link)
    assert "まだ届いていない世帯" in await page.inner_text("main")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "nothing wider than the phone"
    # The households not reached (his own and his deputy's among them): the leader tells each one.
    listed = await page.locator(".household-name").all_inner_texts()
    assert {"川島 一郎", "岩田 三郎"} <= set(listed) and len(listed) == 4
    for name in listed:
        await page.locator("li", has_text=name).get_by_role("button", name="伝えた").click()
        assert "受け付けました" in await page.inner_text("[role=status]")
    assert "すべての世帯に届いています" in await page.inner_text("main")
    # The support list from the circular's page; the alert in force shows the unconsented too.
    await page.get_by_role("link", name="支援が必要な方の名簿（川島）を開く").click()
    main = await page.inner_text("main")
    assert "輪島 タロウ" in main and "避難指示」が出ているため" in main
    box = await page.get_by_role("button", name="伝達済").first.bounding_box()
    assert box is not None and box["height"] >= 44
    for name, mark in (("能登 ハナ", "伝達済"), ("輪島 タロウ", "支援要請"), ("中谷 トメ", "避難済")):
        await page.locator("li", has_text=name).get_by_role("button", name=mark).click()
        assert "記録しました" in await page.inner_text("[role=status]")
    assert "伝達済 1人、避難済 1人、不在 0人、支援要請 1人" in await page.inner_text("main")
    shots = SHOTS
    shots.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shots / "support-390.png"), full_page=True)

    await officer.goto(coverage)
    await expect(officer.locator('tr[data-district="kawashima"]')).to_have_class("coverage-ok")
    await officer.screenshot(path=str(shots / "coverage-console.png"), full_page=True)
    await context.close()
