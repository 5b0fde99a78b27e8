"""The duty officer's console end to end in a real browser.

Log in with a second factor, compose an evacuation order, see the text per medium and the
people it reaches, send it; a second officer approves; receipts arrive; cancel; the cancel
reaches every medium the order went to.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, Page, expect

from broadcaster.store import reports, tables
from broadcaster.store.users import Role, Users
from broadcaster.web.app import WebServer, build_app
from broadcaster.web.auth import hash_password
from broadcaster.web.context import WebContext
from tests.browser.guards import SHOTS, Guard
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
        ctx = WebContext.build(run.runtime)
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
    guard = Guard()
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with console_env(tmp_path) as env:
        run = env.run
        clicks = 0
        # The machine's part of the officer's time (a person adds reading and typing): from the
        # login page to LINE and the circulars sent, reported, never judged (a loaded CI is slow).
        started = time.monotonic()
        officer_ctx = await guard.watch(await browser.new_context(viewport={"width": 1366, "height": 900}))
        officer = await officer_ctx.new_page()
        await login(officer, env, "tanaka")
        clicks += 1  # the login button
        await officer.goto(f"{env.base}/t/anamizu/compose")
        clicks += 1  # 新しい配信 in the menu
        await officer.select_option("#preset", "evacuation_order")
        await officer.check("input[name=districts][value=kawashima]")
        await officer.fill("#shelters", "穴水中学校体育館")
        await officer.click("button[name=refill]")
        clicks += 3  # template, district, 文面に入れる
        await expect(officer.locator("#headline")).to_have_value("【警戒レベル４】川島地区に避難指示を発令しました")
        # Nothing is preselected: the officer must say drill, test or actual.
        await officer.click("button.primary")
        assert await officer.locator("input[name=status]:invalid").count() > 0
        await officer.check("input[name=status][value=Actual]")
        await officer.click("button.primary")
        clicks += 2  # 実際の情報, プレビュー

        # The preview: an unmistakable banner, the text per medium and language, the people.
        await expect(officer.locator(".status-banner")).to_have_text("実際の情報")
        # A summary first, in words: media, who, how many, whether a second officer must approve.
        summary = officer.locator("table.summary-media")
        await expect(summary.locator("tr[data-channel=line]")).to_contain_text("川島地区")
        await expect(summary.locator("tr[data-channel=line]")).to_contain_text("3")
        await expect(summary.locator("tr[data-channel=circular]")).to_contain_text("回覧板")
        await expect(summary.locator("tr[data-channel=circular]")).to_contain_text("1")
        await expect(officer.locator(".summary-approval")).to_contain_text("承認後に送信")
        await expect(officer.locator(".summary-areas")).to_have_text("川島")
        assert "lalert_out" not in await officer.locator("main").inner_text(), "raw channel ids shown"
        assert "district:" not in await officer.locator("main").inner_text(), "raw audience ids shown"
        await expect(officer.locator("section.warnings")).to_have_count(0)
        counts = officer.locator("table.counts")
        await expect(counts.locator("tr[data-channel=line][data-audience='district:kawashima']")).to_contain_text("3")
        # Texts folded per medium, languages folded inside.
        await expect(officer.locator("article[data-channel=x][data-lang=ja]")).to_contain_text("収まる")
        await expect(officer.locator("article[data-channel=line][data-lang=vi]")).to_contain_text("川島")
        await expect(officer.locator("article[data-channel=line][data-lang=vi]")).to_be_hidden()
        await expect(officer.locator("article.preview-row").first).to_contain_text("川島地区")
        height = await officer.evaluate("document.documentElement.scrollHeight")
        print(f"preview height at 1366 px: {height} px")
        assert height < 2500, f"the preview is {height} px tall"
        await officer.screenshot(path=str(SHOTS / "preview-1366.png"), full_page=True)
        await officer.click("details.channel-texts[data-channel=line] > summary")
        await expect(officer.locator("article[data-channel=line][data-lang=ja]")).to_be_visible()
        # Sending as Actual needs the explicit confirmation.
        await officer.click("form.send button.danger")
        assert await officer.locator("form.send input[name=confirm_actual]:invalid").count() == 1
        await officer.check("form.send input[name=confirm_actual]")
        await officer.click("form.send button.danger")
        clicks += 2  # the confirmation box, 実際の情報として配信する
        await officer.wait_for_url("**/t/anamizu/alerts/**")
        alert_id = officer.url.rsplit("/", 1)[1]

        async def state() -> str | None:
            return await run.ledger.alert_state("anamizu", alert_id)  # type: ignore[attr-defined,no-any-return]

        assert await eventually(lambda: _is(state, "held"))
        await officer.reload()
        await expect(officer.locator(".held-box")).to_contain_text("自分が作成した配信は承認できません")
        await expect(officer.locator("form.withdraw button")).to_be_visible()
        await expect(officer.locator("form.cancel")).to_have_count(0)
        await officer.screenshot(path=str(SHOTS / "alert-held-author-1366.png"), full_page=True)

        # A second officer approves from another device.
        approver = await (await guard.watch(await browser.new_context())).new_page()
        await login(approver, env, "sato")
        await approver.goto(f"{env.base}/t/anamizu/")
        await approver.click(f"a[href='/t/anamizu/alerts/{alert_id}']")
        await expect(approver.locator("form.reject textarea")).to_be_visible()
        await approver.click(".held-box form.approve button")
        clicks += 1  # the approver's 承認して配信する (from the dashboard link: +1 below)
        clicks += 1
        await expect(approver.locator("#deliveries")).to_be_visible()

        # The author's page follows by itself: no 承認待ち, and the cancel appears (no reload).
        await expect(officer.locator(".held-box")).to_have_count(0, timeout=15_000)
        await expect(officer.locator("form.cancel")).to_be_visible()
        line_row = officer.locator("#deliveries tr[data-channel=line]")
        await expect(line_row).to_have_attribute("data-state", "done", timeout=30_000)
        await expect(officer.locator("#deliveries tr[data-channel=circular]")).to_have_attribute("data-state", "done", timeout=30_000)
        print(f"officer clicks from login to an approved, sent alert: {clicks}")
        print(f"login to an approved, sent alert, without human reading time: {time.monotonic() - started:.1f} s")

        # A second tab of the same alert, kept open: its cancel will come too late.
        stale = await officer_ctx.new_page()
        await stale.goto(f"{env.base}/t/anamizu/alerts/{alert_id}")
        await stale.check("input[name=reason][value=mistake]")
        await stale.click("form.cancel button.danger")
        await expect(stale.locator("h1")).to_have_text("取消の確認")

        # Cancel asks first, naming the alert, its areas and every medium it went to.
        await officer.check("input[name=reason][value=mistake]")
        await officer.click("form.cancel button.danger")
        confirm = officer.locator(".cancel-confirm")
        await expect(confirm).to_contain_text("川島地区に避難指示を発令しました")
        await expect(confirm.locator(".areas")).to_have_text("川島")
        await expect(confirm.locator(".media")).to_contain_text("LINE")
        await expect(confirm.locator(".media")).to_contain_text("回覧板")
        await officer.screenshot(path=str(SHOTS / "cancel-confirm-1366.png"), full_page=True)
        await officer.dblclick("form.confirm-cancel button.danger")  # an impatient double click
        await officer.wait_for_url(re.compile(r"/t/anamizu/alerts/m-[^/]+$"))
        cancel_id = officer.url.rsplit("/", 1)[1]
        assert cancel_id != alert_id

        # The second cancel, from the stale tab: refused, with what happened.
        await stale.click("form.confirm-cancel button.danger")
        await expect(stale.locator(".refused")).to_contain_text("すでに取り消されています")
        await stale.screenshot(path=str(SHOTS / "cancel-refused-1366.png"), full_page=True)

        async def cancel_done() -> bool:
            rows = await reports.channel_table(run.ledger, tenant="anamizu", alert_id=cancel_id)  # type: ignore[attr-defined]
            orig = await reports.channel_table(run.ledger, tenant="anamizu", alert_id=alert_id)  # type: ignore[attr-defined]
            return bool(rows) and {r.channel for r in rows} == {r.channel for r in orig} and all(r.waiting == 0 for r in rows)

        await eventually(cancel_done, timeout=30)
        # Exactly one 取消 per medium: one cancel alert, and per channel its dispatches mirror the original's.
        per_channel = await _cancels_per_channel(run.ledger, "anamizu")  # type: ignore[attr-defined]
        assert per_channel and set(per_channel.values()) == {1}, per_channel
        await officer.reload()
        await expect(officer.locator("h1")).to_have_text("取消：【警戒レベル４】川島地区に避難指示を発令しました")
        await expect(officer.locator("#deliveries tr[data-channel=line]")).to_have_attribute("data-state", "done")
        await expect(officer.locator("form.cancel")).to_have_count(0)
        # The original now says it was cancelled, and offers neither cancel nor correction.
        await officer.goto(f"{env.base}/t/anamizu/alerts/{alert_id}")
        await expect(officer.locator("#standing")).to_contain_text("取り消されました")
        await expect(officer.locator("form.cancel")).to_have_count(0)
        await officer.set_viewport_size({"width": 390, "height": 844})
        await officer.screenshot(path=str(SHOTS / "alert-cancelled-390.png"), full_page=True)
        width = await officer.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the alert page scrolls sideways on a phone ({width} px)"
    guard.check(allow=("status of 409",))


async def _cancels_per_channel(ledger: object, tenant: str) -> dict[str, int]:
    """How many distinct cancel alerts reached each channel."""
    a, d = tables.alerts, tables.dispatches
    query = (
        sa.select(d.c.channel, sa.func.count(sa.distinct(d.c.alert_id)))
        .select_from(d.join(a, sa.and_(a.c.tenant == d.c.tenant, a.c.identifier == d.c.alert_id)))
        .where(a.c.tenant == tenant, a.c.msg_type == "Cancel")
        .group_by(d.c.channel)
    )
    rows = await ledger.db.read(lambda c: list(c.execute(query)))  # type: ignore[attr-defined]
    return {str(r[0]): int(r[1]) for r in rows}


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


async def test_enter_and_the_template_button_never_lose_typed_text(browser: Browser, tmp_path: Path) -> None:
    guard = Guard()
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with console_env(tmp_path) as env:
        page = await (await guard.watch(await browser.new_context(viewport={"width": 390, "height": 844}))).new_page()
        await login(page, env, "tanaka")
        await page.goto(f"{env.base}/t/anamizu/compose")
        await page.select_option("#preset", "evacuation_order")
        await page.check("input[name=districts][value=kawashima]")
        await page.fill("#headline", "手で書いた見出し")
        await page.fill("#description", "手で書いた本文です。")
        url = page.url
        await page.press("#headline", "Enter")
        await page.wait_for_timeout(300)
        assert page.url == url, "Enter sent the form"
        await expect(page.locator("#headline")).to_have_value("手で書いた見出し")
        # The template button asks first; typed text stays until the officer says replace.
        await page.click("button[name=refill][value='1']")
        await expect(page.locator(".replace-ask")).to_be_visible()
        await expect(page.locator("#headline")).to_have_value("手で書いた見出し")
        await expect(page.locator("#description")).to_have_value("手で書いた本文です。")
        await page.screenshot(path=str(SHOTS / "compose-replace-ask-390.png"), full_page=True)
        await page.click("button[name=refill][value=replace]")
        await expect(page.locator("#headline")).to_have_value("【警戒レベル４】川島地区に避難指示を発令しました")
        await page.click("button[name=undo]")
        await expect(page.locator("#headline")).to_have_value("手で書いた見出し")
        await expect(page.locator("#description")).to_have_value("手で書いた本文です。")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the compose page scrolls sideways on a phone ({width} px)"
    guard.check()


async def test_the_preview_blocks_on_a_placeholder_and_a_headline_for_the_whole_town(
    browser: Browser, tmp_path: Path
) -> None:
    guard = Guard()
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with console_env(tmp_path) as env:
        page = await (await guard.watch(await browser.new_context(viewport={"width": 390, "height": 844}))).new_page()
        await login(page, env, "tanaka")
        await page.goto(f"{env.base}/t/anamizu/compose")
        await page.select_option("#preset", "evacuation_order")
        # The template filled in before a district or shelter was chosen: 町内全域 and （避難所名）.
        await page.click("button[name=refill]")
        await page.check("input[name=districts][value=kawashima]")
        await page.check("input[name=status][value=Exercise]")
        await page.click("button.primary")
        warnings = page.locator("section.warnings")
        await expect(warnings.locator("[data-warning=placeholder]")).to_contain_text("（避難所名）")
        await expect(warnings.locator("[data-warning=whole_town]")).to_contain_text("川島")
        await page.screenshot(path=str(SHOTS / "preview-warnings-390.png"), full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the preview scrolls sideways on a phone ({width} px)"
        await page.click("form.send button.drill")
        assert await page.locator("form.send input[name=confirm_warnings]:invalid").count() == 1
        await page.check("form.send input[name=confirm_warnings]")
        await page.click("form.send button.drill")
        await page.wait_for_url(re.compile(r"/t/anamizu/alerts/m-[^/]+$"))
    guard.check()


async def test_a_second_officer_unlocks_a_colleague_from_the_console(browser: Browser, tmp_path: Path) -> None:
    from broadcaster.model import now
    from broadcaster.store.login_throttle import Limits, LoginThrottle

    async with console_env(tmp_path) as env:
        throttle = LoginThrottle(env.run.ledger.db)  # type: ignore[attr-defined]
        for i in range(Limits().account_guard):
            await throttle.admit("tanaka", f"203.0.113.{i + 1}", now())
        guard = Guard()
        page = await (await guard.watch(await browser.new_context())).new_page()
        await login(page, env, "sato")
        await page.goto(f"{env.base}/t/anamizu/logins")
        row = page.locator("tr[data-officer=tanaka]")
        await expect(row).to_contain_text("制限中")
        await expect(page.locator("tr[data-officer=sato] button")).to_have_count(0)  # not for oneself
        await row.get_by_role("button", name="解除する: tanaka").click()
        await expect(page.locator("[role=status]")).to_have_text("解除しました。")
        await expect(page.locator("tr[data-officer=tanaka]")).to_contain_text("解除中")
        guard.check()
