"""The duty officer's console end to end in a real browser.

Log in with a second factor, compose an evacuation order, see the text per medium and the
people it reaches, send it; a second officer approves; receipts arrive; cancel; the cancel
reaches every medium the order went to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from playwright.async_api import Browser, Page, expect

from broadcaster.store import reports
from broadcaster.store.users import Role, Users
from broadcaster.web.app import WebServer, build_app
from broadcaster.web.auth import hash_password
from broadcaster.web.context import WebContext
from tests.canaries import canary
from tests.helpers import eventually, make_settings, running_pipeline
from tests.web_helpers import free_port

pytestmark = pytest.mark.browser

PASSWORD = canary("officer-password")


@dataclass
class Console:
    base: str
    secrets: dict[str, str]
    run: object


@asynccontextmanager
async def console_env(tmp: Path) -> AsyncIterator[Console]:
    port = free_port()
    settings = make_settings(tmp, web={"port": port, "public_url": f"http://127.0.0.1:{port}"})
    async with running_pipeline(settings) as run:
        await run.ledger.ensure_tenants((t.id, t.name) for t in settings.tenants.values())
        users = Users(run.ledger.db)
        secrets = {}
        for name, role in (("tanaka", Role.OPERATOR), ("sato", Role.APPROVER)):
            secrets[name] = pyotp.random_base32()
            await users.add(
                name, display_name=name, home_tenant="anamizu", password_hash=hash_password(PASSWORD),
                totp_secret=secrets[name], roles={"anamizu": role},
            )
        for n in range(3):
            await run.runtime.audiences.add("anamizu", districts=["kawashima"], endpoints={"line": f"U{n:032x}"})
        await run.runtime.audiences.add(
            "anamizu", kind="leader", name="区長", districts=["kawashima"], endpoints={"circular": "leader-1"}
        )
        ctx = WebContext.build(settings, run.ledger, run.bus)
        ctx.extras["runtime"] = run.runtime
        server = WebServer(build_app(ctx), "127.0.0.1", port)
        await server.start()
        try:
            yield Console(f"http://127.0.0.1:{port}", secrets, run)
        finally:
            await server.stop()


async def login(page: Page, env: Console, user: str) -> None:
    await page.goto(f"{env.base}/login")
    await page.fill("#username", user)
    await page.fill("#password", PASSWORD)
    await page.fill("#code", pyotp.TOTP(env.secrets[user]).now())
    await page.click("button[type=submit].primary")
    await expect(page.locator("h1")).to_contain_text("担当する自治体")


async def test_compose_preview_approve_send_and_cancel(browser: Browser, tmp_path: Path) -> None:
    async with console_env(tmp_path) as env:
        run = env.run
        officer = await (await browser.new_context()).new_page()
        await login(officer, env, "tanaka")
        await officer.goto(f"{env.base}/t/anamizu/compose")
        await officer.select_option("#preset", "evacuation_order")
        await officer.check("input[name=districts][value=kawashima]")
        await officer.fill("#shelters", "穴水中学校体育館")
        await officer.click("button[name=refill]")
        await expect(officer.locator("#headline")).to_have_value("【警戒レベル４】川島地区に避難指示を発令しました")
        # Nothing is preselected: the officer must say drill, test or actual.
        await officer.click("button.primary")
        assert await officer.locator("input[name=status]:invalid").count() > 0
        await officer.check("input[name=status][value=Actual]")
        await officer.click("button.primary")

        # The preview: an unmistakable banner, the text per medium and language, the people.
        await expect(officer.locator(".status-banner")).to_have_text("実際の情報")
        counts = officer.locator("table.counts")
        await expect(counts).to_contain_text("line")
        await expect(counts.locator("tr", has_text="district:kawashima").filter(has_text="line")).to_contain_text("3")
        await expect(counts.locator("tr", has_text="circular").first).to_contain_text("1")
        await expect(counts).to_contain_text("要承認")
        await expect(officer.locator("article[data-channel=x][data-lang=ja]")).to_contain_text("収まる")
        await expect(officer.locator("article[data-channel=line][data-lang=vi]")).to_contain_text("川島")
        await expect(officer.locator("article.preview-row").first).to_contain_text("川島地区")
        # Sending as Actual needs the explicit confirmation.
        await officer.click("form.send button.danger")
        assert await officer.locator("form.send input[name=confirm_actual]:invalid").count() == 1
        await officer.check("form.send input[name=confirm_actual]")
        await officer.click("form.send button.danger")
        await officer.wait_for_url("**/t/anamizu/alerts/**")
        alert_id = officer.url.rsplit("/", 1)[1]

        async def state() -> str | None:
            return await run.ledger.alert_state("anamizu", alert_id)  # type: ignore[attr-defined,no-any-return]

        assert await eventually(lambda: _is(state, "held"))
        await officer.reload()
        await expect(officer.locator(".held-box")).to_contain_text("自分が作成した配信は承認できません")

        # A second officer approves from another device.
        approver = await (await browser.new_context()).new_page()
        await login(approver, env, "sato")
        await approver.goto(f"{env.base}/t/anamizu/")
        await approver.click(f"a[href='/t/anamizu/alerts/{alert_id}']")
        await approver.click(".held-box button")
        await expect(approver.locator("#deliveries")).to_be_visible()

        # Receipts arrive on the officer's page by themselves (server-sent events).
        await officer.reload()
        line_row = officer.locator("#deliveries tr[data-channel=line]")
        await expect(line_row).to_have_attribute("data-state", "done", timeout=30_000)
        await expect(officer.locator("#deliveries tr[data-channel=circular]")).to_have_attribute("data-state", "done", timeout=30_000)

        # One-click cancel with a pre-approved text.
        await officer.check("input[name=reason][value=mistake]")
        await officer.click("section.card button.danger")
        await officer.wait_for_url("**/t/anamizu/alerts/**")
        cancel_id = officer.url.rsplit("/", 1)[1]
        assert cancel_id != alert_id

        async def cancel_done() -> bool:
            rows = await reports.channel_table(run.ledger, tenant="anamizu", alert_id=cancel_id)  # type: ignore[attr-defined]
            orig = await reports.channel_table(run.ledger, tenant="anamizu", alert_id=alert_id)  # type: ignore[attr-defined]
            return bool(rows) and {r.channel for r in rows} == {r.channel for r in orig} and all(r.waiting == 0 for r in rows)

        await eventually(cancel_done, timeout=30)
        await officer.reload()
        await expect(officer.locator("h1")).to_contain_text("取消")
        await expect(officer.locator("#deliveries tr[data-channel=line]")).to_have_attribute("data-state", "done")


async def _is(get: object, want: str) -> bool:
    return await get() == want  # type: ignore[operator,no-any-return]


async def test_a_quarterly_drill_is_scheduled_and_can_be_called_off(browser: Browser, tmp_path: Path) -> None:
    async with console_env(tmp_path) as env:
        page = await (await browser.new_context()).new_page()
        await login(page, env, "tanaka")
        await page.goto(f"{env.base}/t/anamizu/compose")
        await page.select_option("#preset", "notice")
        await page.check("input[name=status][value=Exercise]")
        await page.fill("#headline", "四半期の情報伝達訓練です")
        await page.click("button.primary")
        await expect(page.locator(".status-banner")).to_have_text("訓練")
        await page.fill("#cron", "0 10 1 */3 *")
        await page.click("form.schedule button")
        await page.wait_for_url("**/t/anamizu/schedules")
        row = page.locator("tbody tr")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("四半期の情報伝達訓練です")
        await expect(row).to_contain_text("訓練")
        await row.locator("button").click()
        await expect(page.locator("tbody tr")).to_have_count(0)
