"""The console's 媒体の整合 page in a real browser: an open alarm with the facts side by side, the
state per medium of the event, and the one-click republish of that medium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from broadcaster.channels import Carried
from broadcaster.consistency.facts import facts_of
from broadcaster.consistency.judge import judge
from broadcaster.model import now
from broadcaster.store import consistency, reports
from tests.browser.guards import SHOTS, Guard
from tests.browser.test_console_browser import console_env, login
from tests.helpers import eventually, manual

pytestmark = pytest.mark.browser


async def test_an_alarm_shows_both_sides_and_republishes_the_medium(browser: Browser, tmp_path: Path) -> None:
    guard = Guard()
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with console_env(tmp_path) as env:
        run = env.run
        await run.submit(
            manual(kind="shelter", event="避難所開設", headline="川島公民館を開設", districts=["kawashima"])
        )  # type: ignore[attr-defined]
        rows = await eventually(lambda: reports.alerts(run.ledger, tenant="anamizu"))  # type: ignore[attr-defined]
        alert = await run.ledger.alert("anamizu", rows[0]["identifier"])  # type: ignore[attr-defined]
        assert alert is not None
        # The X account shows another message of the event than the ledger's newest: what the
        # guard records when it reads X back (tests/integration/test_consistency_guard.py).
        other = {**facts_of(alert), "msg_type": "Update", "status": "Exercise"}
        states = judge(
            "x",
            "provider",
            alert,
            [Carried(surface="x", alert_id=alert.identifier, facts=other)],
            now(),
            now(),
            60,
        )
        await consistency.record(run.ledger.db, "anamizu", alert.event_key, states, now())  # type: ignore[attr-defined]

        page = await (
            await guard.watch(await browser.new_context(viewport={"width": 1280, "height": 900}))
        ).new_page()
        await login(page, env, "tanaka")
        await page.goto(f"{env.base}/t/anamizu/")
        await expect(page.locator(".consistency-banner")).to_contain_text("媒体の食い違い: 1")
        await page.click(".consistency-banner a")
        await expect(page.locator("h1")).to_contain_text("媒体の整合")
        alarm = page.locator("section.consistency-alarm[data-surface=x]")
        await expect(alarm.locator("h2")).to_contain_text("内容が違う")
        differs = alarm.locator("tr.fact-differs")
        await expect(differs).to_have_count(2)
        await expect(differs.nth(0)).to_contain_text("Actual")
        await expect(differs.nth(0)).to_contain_text("Exercise")
        await expect(page.locator("table.media-states tr[data-surface=x]")).to_contain_text("内容が違う")
        await page.screenshot(path=str(SHOTS / "consistency.png"), full_page=True)
        await alarm.locator("button").click()
        await page.wait_for_url("**/t/anamizu/consistency?event=*")
        await expect(page.locator("section.consistency-alarm[data-surface=x]")).to_contain_text("再配信済み")
    guard.check()
