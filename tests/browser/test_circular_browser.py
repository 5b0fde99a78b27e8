"""The district leader's page in a real Chromium, as Scenario 3's 76-year-old uses it: a phone,
JavaScript off, large type, one big button, the safety check; and at 200 % zoom."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from broadcaster.circulars import routine
from broadcaster.circulars import store as cs
from broadcaster.circulars.board import CircularBoard
from broadcaster.circulars.chain import Chain
from broadcaster.circulars.service import Circulars
from broadcaster.store.audiences import Audiences
from broadcaster.web.keys import CONTEXT
from tests.circular_helpers import LINK_KEY, add_people
from tests.contract.test_circulars_contract import delivery_of, evacuation
from tests.web_helpers import WebEnv, web_env

pytestmark = pytest.mark.browser

# A real 1×1 PNG, so that the browser shows the attachment as an image.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[WebEnv, Circulars, dict[str, str]]]:
    async with web_env(tmp_path, circulars={"link_key": LINK_KEY}) as e:
        # The process's own circulars (broadcaster/app.py): the web context is frozen.
        svc = e.app[CONTEXT].runtime.circulars
        await add_people(Audiences(e.ledger.db))
        alert = evacuation()
        await e.ledger.record_alert(alert)
        await CircularBoard(svc).send(delivery_of(alert, "leaders:kawashima", ("L-yamada",)))
        spec = routine.RoutineSpec(title="避難所の地図", body="地区の避難所の地図です。\n\n回覧してください。", districts=("kawashima",), form="yesno", question="地区に回しましたか")
        notice = await routine.create(svc, "anamizu", spec, [("地図.png", PNG)], "officer:anamizu/tanaka")
        await Chain(svc).run("anamizu", notice)
        links = {}
        for c in await cs.circulars_of(e.ledger.db, "anamizu"):
            (d,) = await cs.deliveries(e.ledger.db, c.id)
            links[c.origin] = svc.link(d.id, d.link_version)
        yield e, svc, links


async def _font_px(page: Page, selector: str) -> float:
    return float(await page.eval_on_selector(selector, "el => parseFloat(getComputedStyle(el).fontSize)"))


async def test_open_confirm_and_answer_the_safety_check_without_javascript(
    browser: Browser, served: tuple[WebEnv, Circulars, dict[str, str]]
) -> None:
    e, _, links = served
    context = await browser.new_context(java_script_enabled=False, **PHONE)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(links["emergency"])
    assert await page.get_attribute("html", "lang") == "ja"
    assert "川島地区に避難指示" in await page.inner_text("h1")
    assert "山田太郎" in await page.inner_text("header")
    (c,) = [c for c in await cs.circulars_of(e.ledger.db, "anamizu") if c.origin == "emergency"]
    (d,) = await cs.deliveries(e.ledger.db, c.id)
    assert d.opened_at is not None, "opening the page is the read receipt"

    # Large text, and one big button a thumb cannot miss.
    assert await _font_px(page, "body") >= 20
    assert await _font_px(page, "h1") >= 30
    button = page.get_by_role("button", name="確認しました")
    box = await button.bounding_box()
    assert box is not None and box["height"] >= 72 and box["width"] >= 300
    assert await _font_px(page, ".confirm-button") >= 32

    await button.click()
    assert "受け付けました" in await page.inner_text("[role=status]")
    assert "確認済み" in await page.inner_text(".confirmed")
    assert await page.get_by_role("button", name="確認しました").count() == 0

    # 安否確認: the fields are labelled, so they are found by their labels.
    await page.get_by_label("無事を確認した世帯").fill("18")
    await page.get_by_label("支援が必要な世帯").fill("2")
    await page.get_by_label("連絡がつかない世帯").fill("1")
    await page.get_by_label("連絡事項").fill("山側の2世帯は消防団が向かっています")
    await page.get_by_role("button", name="回答を送る").click()
    assert "回答を受け付けました" in await page.inner_text("[role=status]")
    assert "無事を確認した世帯 18" in await page.inner_text(".last")
    answers = await cs.answers(e.ledger.db, c.id)
    assert [a["data"] for a in answers] == [
        {"safe": 18, "need_help": 2, "unreachable": 1, "note": "山側の2世帯は消防団が向かっています"}
    ]
    events = [x["action"] for x in await cs.events(e.ledger.db, c.id) if x["delivery_id"] == d.id]
    assert events.count("opened") == 1 and events.count("confirmed") == 1 and events.count("answered") == 1
    await context.close()


async def test_the_page_reflows_at_200_percent_zoom_and_shows_the_attachment(
    browser: Browser, served: tuple[WebEnv, Circulars, dict[str, str]]
) -> None:
    _, _, links = served
    # 200 % zoom on a 360 px phone leaves 180 CSS pixels: nothing may need sideways scrolling.
    context = await browser.new_context(viewport={"width": 180, "height": 740}, device_scale_factor=4, is_mobile=True)
    page = await context.new_page()
    await page.goto(links["routine"])
    assert "避難所の地図" in await page.inner_text("h1")
    wide = await page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 180, f"the page is {wide} px wide at 200 % zoom"
    image = page.get_by_role("img", name="添付画像：地図.png")
    assert await image.evaluate("img => img.complete && img.naturalWidth") == 1
    box = await page.get_by_role("button", name="確認しました").bounding_box()
    assert box is not None and box["width"] <= 180
    # The yes/no question is a labelled group with large choices.
    await page.get_by_label("はい").check()
    await page.get_by_role("button", name="回答を送る").click()
    assert "回答を受け付けました" in await page.inner_text("[role=status]")
    await context.close()


def _luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(x) for x in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: list[float], b: list[float]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


async def test_text_and_controls_have_aa_contrast(browser: Browser, served: tuple[WebEnv, Circulars, dict[str, str]]) -> None:
    _, _, links = served
    context = await browser.new_context(**PHONE)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(links["emergency"])
    colours = await page.evaluate(
        """() => {
          const rgb = s => s.match(/[0-9.]+/g).map(Number);
          const pick = sel => { const el = document.querySelector(sel); const cs = getComputedStyle(el);
            let bg = cs.backgroundColor, p = el;
            while (rgb(bg).length > 3 && rgb(bg)[3] === 0 && p.parentElement) { p = p.parentElement; bg = getComputedStyle(p).backgroundColor; }
            if (rgb(bg).length > 3 && rgb(bg)[3] === 0) bg = 'rgb(255, 255, 255)';
            return [rgb(cs.color), rgb(bg)]; };
          return {body: pick('main p'), button: pick('.confirm-button'), header: pick('header.town p'), send: pick('.send-button'), label: pick('label')};
        }"""
    )
    for name, (fg, bg) in colours.items():
        assert _contrast(fg, bg) >= 4.5, (name, fg, bg)
    await context.close()


async def test_the_pages_raise_no_csp_violation_and_a_cancelled_circular_asks_nothing(
    browser: Browser, served: tuple[WebEnv, Circulars, dict[str, str]]
) -> None:
    from datetime import UTC, datetime

    from tests.browser.guards import SHOTS, Guard

    e, _, links = served
    guard = Guard()
    context = await guard.watch(await browser.new_context(**PHONE))  # type: ignore[arg-type]
    page = await context.new_page()
    for origin in ("emergency", "routine"):
        await page.goto(links[origin])
        await page.wait_for_load_state("networkidle")
    guard.check()  # the alert's circular carried an inline style the CSP blocked

    (c,) = [c for c in await cs.circulars_of(e.ledger.db, "anamizu") if c.origin == "emergency"]
    assert c.alert_id is not None
    await cs.cancel_event(e.ledger.db, "anamizu", [c.alert_id], c.event_key or "", datetime.now(UTC))
    await page.goto(links["emergency"])
    assert "取り消されました" in await page.inner_text("[role=alert]")
    assert await page.get_by_role("button", name="確認しました").count() == 0
    assert await page.get_by_role("button", name="回答を送る").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "leader-cancelled-360.png"), full_page=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"sideways scroll on a phone ({width} px)"
    guard.check()
    await context.close()
