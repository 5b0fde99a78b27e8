"""Every page of the officer's console on a 390 px phone: axe-core finds nothing of impact moderate
or above, nothing scrolls sideways, and the browser reports no console error or CSP violation."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from playwright.async_api import Browser, Page, expect

from broadcaster.store.users import Role, Users
from broadcaster.web.auth import hash_password
from tests.browser.accessibility import PHONE_WIDTH, check_page
from tests.browser.guards import SHOTS, Guard
from tests.browser.test_console_browser import PASSWORD, console_env, login

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": PHONE_WIDTH, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


async def _look(page: Page, name: str, problems: list[str]) -> None:
    await page.wait_for_load_state("load")
    problems.extend(await check_page(page, name))
    await page.screenshot(path=str(SHOTS / f"phone-console-{name}.png"), full_page=True)


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
        context = await guard.watch(await browser.new_context(**PHONE))  # type: ignore[arg-type]
        base = env.base
        page = await context.new_page()
        await page.goto(f"{env.base}/login")
        await _look(page, "login", problems)
        await login(page, env, "tanaka")
        await _look(page, "console", problems)
        for name, path in (
            ("dashboard", "/t/anamizu/"),
            ("compose", "/t/anamizu/compose"),
            ("quotas", "/t/anamizu/quotas"),
            ("consistency", "/t/anamizu/consistency"),
            ("circulars", "/t/anamizu/circulars"),
            ("circular-new", "/t/anamizu/circulars/new"),
        ):
            await page.goto(env.base + path)
            await _look(page, name, problems)

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
        await page.locator("form.send button[type=submit]").click()
        await page.wait_for_url("**/t/anamizu/alerts/**")
        await _look(page, "alert", problems)
        await page.goto(page.url + "/coverage")
        # Just sent: 川島 is not reached yet but not late either (amber, never green); 大町 has
        # nobody on the roster (neither).
        assert await page.locator('tr[data-district="kawashima"]').get_attribute("class") == "coverage-waiting"
        assert await page.locator('tr[data-district="omachi"]').get_attribute("class") == "coverage-none"
        await _look(page, "coverage", problems)

        admin = await guard.watch(await browser.new_context(**PHONE))  # type: ignore[arg-type]
        page = await admin.new_page()
        await login(page, env, "suzuki")
        for name, path in (("audit", "/t/anamizu/audit"), ("logins", "/t/anamizu/logins")):
            await page.goto(env.base + path)
            await _look(page, name, problems)
    assert not problems, "\n".join(problems)
    guard.check(allow=(f"status of 403 (Forbidden) ({base}/t/anamizu/audit)",))
