"""Every page of the officer's console on a 390 px phone and on a 1366 px office screen: axe-core
finds nothing of impact moderate or above, nothing scrolls sideways, every table scrolls in its own
labelled box with its headings on one line, and the browser reports no console error or CSP
violation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from playwright.async_api import Error as PlaywrightError

from broadcaster.model import JST, now
from broadcaster.store.receivers import record_report
from broadcaster.store.users import Role, Users
from broadcaster.web.auth import hash_password
from tests.browser.accessibility import PHONE_WIDTH, check_page, table_problems
from tests.browser.guards import SHOTS, Guard
from tests.browser.test_console_browser import PASSWORD, console_env, login

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": PHONE_WIDTH, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESK = {"viewport": {"width": 1366, "height": 900}}


async def _steady(page: Page, name: str) -> list[str]:
    """axe, the width and the tables of the page, looked at again if the page reloaded itself
    meanwhile (an alert's page does when its deliveries change state)."""
    for _ in range(10):
        try:
            await page.wait_for_load_state("load")
            return [*await check_page(page, name), *await table_problems(page, name)]
        except PlaywrightError as e:
            if "context was destroyed" not in str(e) and "navigat" not in str(e):
                raise
    raise AssertionError(f"{name}: the page kept reloading itself")


async def _shot(page: Page, path: Path) -> None:
    """A screenshot for a person to look at, not a check: a page that reloads itself meanwhile,
    or a machine too loaded to paint in time, costs the picture, not the test."""
    for _ in range(3):
        try:
            await page.wait_for_load_state("load")
            await page.screenshot(path=str(path), full_page=True, timeout=60_000)
            return
        except PlaywrightError:
            continue


async def goto(page: Page, url: str) -> None:
    """Open `url`, again if a page that reloads itself interrupted the navigation."""
    for _ in range(10):
        try:
            await page.goto(url)
            return
        except PlaywrightError as e:
            if "interrupted by another navigation" not in str(e):
                raise
    raise AssertionError(f"{url}: kept being interrupted")


async def _look(page: Page, name: str, problems: list[str], desk: Page | None = None) -> None:
    """The page as shown on the phone; with `desk`, the same address again on the office screen."""
    problems.extend(await _steady(page, name))
    await _shot(page, SHOTS / f"phone-console-{name}.png")
    if desk is not None:
        await goto(desk, page.url)
        await _look_desk(desk, name, problems)


async def _desk(browser: Browser, guard: Guard, phone: BrowserContext) -> Page:
    state = await phone.storage_state()
    return await (await guard.watch(await browser.new_context(**DESK, storage_state=state))).new_page()  # type: ignore[arg-type]


async def _look_desk(desk: Page, name: str, problems: list[str]) -> None:
    problems.extend(await _steady(desk, f"{name} at 1366 px"))
    await _shot(desk, SHOTS / f"desk-console-{name}.png")


async def test_every_console_page_on_a_phone(browser: Browser, tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    guard = Guard()
    problems: list[str] = []
    async with console_env(tmp_path) as env:
        env.secrets["suzuki"] = pyotp.random_base32()
        await Users(env.run.ledger.db).add(  # type: ignore[attr-defined]
            "suzuki", display_name="suzuki", home_tenant="anamizu", password_hash=hash_password(PASSWORD),
            totp_secret=env.secrets["suzuki"], roles={"anamizu": Role.ADMIN},
        )
        # A J-Alert bridge that reported two receivers, one of them silent: the receivers' table.
        heard = now().isoformat()
        await record_report(env.run.ledger.db, "bridge-anamizu-1", "anamizu", {  # type: ignore[attr-defined]
            "at": heard, "started": heard, "spool": {"queue": 0},
            "receivers": [
                {"name": "役場本庁舎 J-ALERT受信機", "last_heard": heard, "last_via": "mail", "last_test": heard, "heard": 12},
                {"name": "穴水消防署 J-ALERT受信機（予備）", "last_heard": "2026-01-01T09:00:00+09:00", "heard": 1, "expect_within_h": 24},
            ],
        })  # fmt: skip
        context = await guard.watch(await browser.new_context(**PHONE))  # type: ignore[arg-type]
        base = env.base
        page = await context.new_page()
        await page.goto(f"{env.base}/login")
        await _look(page, "login", problems)
        await login(page, env, "tanaka")
        # The office screen shares the phone's session (a TOTP code is good for one login only).
        desk = await _desk(browser, guard, context)
        await _look(page, "console", problems, desk)
        for name, path in (
            ("dashboard", "/t/anamizu/"),
            ("compose", "/t/anamizu/compose"),
            ("quotas", "/t/anamizu/quotas"),
            ("consistency", "/t/anamizu/consistency"),
            ("schedules", "/t/anamizu/schedules"),
            ("receivers", "/t/anamizu/jalert"),
            ("area-mail", "/t/anamizu/area-mail"),
            ("support", "/t/anamizu/support"),
            ("circulars", "/t/anamizu/circulars"),
            ("circular-new", "/t/anamizu/circulars/new"),
        ):
            await page.goto(env.base + path)
            await _look(page, name, problems, desk)

        # A circular, to see its page (per district, people, record) as the officer follows it.
        await page.goto(f"{env.base}/t/anamizu/circulars/new")
        await page.fill("#title", "避難所の地図と、地区ごとの連絡網の確認のお願い")
        await page.fill("#body", "地区の避難所の地図です。回覧してください。")
        await page.check("input[name=districts][value=kawashima]")
        await page.check("input[name=form][value=yesno]")
        await page.fill("#question", "地区に回しましたか")
        await page.click("form.card button[type=submit]")
        await page.wait_for_url("**/t/anamizu/circulars/*")
        await _look(page, "circular", problems, desk)

        # An operator asking for the audit log gets a page that says what and whom to ask, not a bare word.
        answer = await page.goto(f"{env.base}/t/anamizu/audit")
        assert answer is not None and answer.status == 403
        await expect(page.locator("h1")).to_have_text("このページを開く権限がありません")
        await expect(page.locator(".role-need")).to_have_text("管理者")
        await expect(page.locator(".role-have")).to_have_text("配信の作成")
        await expect(page.locator("main")).to_contain_text("システム管理者")
        await _look(page, "forbidden", problems)
        await page.click("a.back")
        await expect(page.locator("h1")).to_contain_text("担当する自治体")

        await page.goto(f"{env.base}/t/anamizu/compose")
        await page.select_option("#preset", "evacuation_order")
        await page.check("input[name=districts][value=kawashima]")
        await page.fill("#shelters", "穴水中学校体育館")
        await page.click("button[name=refill]")
        await page.check("input[name=status][value=Exercise]")
        await page.click("button.primary")
        await page.locator(".status-banner").wait_for()
        await _look(page, "preview", problems)
        # The preview answers a form: the office screen writes the same alert to see it.
        await desk.goto(f"{env.base}/t/anamizu/compose")
        await desk.select_option("#preset", "evacuation_order")
        await desk.check("input[name=districts][value=kawashima]")
        await desk.fill("#shelters", "穴水中学校体育館")
        await desk.click("button[name=refill]")
        await desk.check("input[name=status][value=Exercise]")
        await desk.click("button.primary")
        await desk.locator(".status-banner").wait_for()
        await _look_desk(desk, "preview", problems)
        # The same alert scheduled for tomorrow (the town's clock): the schedules' table.
        tomorrow = (now() + timedelta(days=1)).astimezone(JST).strftime("%Y-%m-%dT%H:%M")
        await desk.fill("#send_at", tomorrow)
        await desk.locator("form.schedule button[type=submit]").click()
        await desk.wait_for_load_state("load")
        await page.locator("form.send button[type=submit]").click()
        await page.wait_for_url("**/t/anamizu/alerts/**")
        await _look(page, "alert", problems, desk)
        await goto(page, page.url + "/coverage")
        # Just sent: 川島 is not reached yet but not late either (amber, never green); 大町 has
        # nobody on the roster (neither).
        assert await page.locator('tr[data-district="kawashima"]').get_attribute("class") == "coverage-waiting"
        assert await page.locator('tr[data-district="omachi"]').get_attribute("class") == "coverage-none"
        await _look(page, "coverage", problems, desk)
        # With the alert sent, the lists have rows: the dashboard, the circulars (the drill's
        # circular to the leader) and the support checklist.
        for name, path in (
            ("dashboard-sent", "/t/anamizu/"),
            ("circulars-sent", "/t/anamizu/circulars"),
            ("support-sent", "/t/anamizu/support"),
            ("schedules-filled", "/t/anamizu/schedules"),
        ):
            await page.goto(env.base + path)
            await _look(page, name, problems, desk)

        admin = await guard.watch(await browser.new_context(**PHONE))  # type: ignore[arg-type]
        page = await admin.new_page()
        await login(page, env, "suzuki")
        desk = await _desk(browser, guard, admin)
        for name, path in (("audit", "/t/anamizu/audit"), ("logins", "/t/anamizu/logins")):
            await page.goto(env.base + path)
            await _look(page, name, problems, desk)
    assert not problems, "\n".join(problems)
    guard.check(allow=(f"status of 403 (Forbidden) ({base}/t/anamizu/audit)",))
