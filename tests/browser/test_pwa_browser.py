"""The residents' app (PWA) in a real browser: sign up for push, receive an alert, see a cancel,
keep working offline, and leave.

Everything is real except the browser's push service, which is Google's and not reachable here:
the page's PushManager is given a subscription on the fake push service (tests/fakes/webpush.py),
with keys the test holds. The broadcaster's app_push adapter then sends to what the app stored,
the fake decrypts it, and Chromium's DevTools protocol delivers that plaintext to the service
worker as the push service would.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, CDPSession, Page
from pydantic import SecretStr

from adapters.outbound.app_push import HostPolicy, WebPushAdapter, WebPushSettings
from adapters.outbound.app_push.vapid import generate
from broadcaster.model import MsgType, Status
from broadcaster.store.audiences import Audiences
from tests.browser.guards import SHOTS
from tests.fakes.deliveries import delivery, text
from tests.fakes.site import SiteFixture, alert, follow_up, site_delivery
from tests.fakes.webpush import FakePushService, b64d
from tests.web_helpers import WebEnv, web_env

pytestmark = pytest.mark.browser

PRIVATE, PUBLIC = generate()

# Stands in for the browser's own push service registration (see the module docstring).
STUB = """
(() => {
  const SUB = %s;
  const KEY = "stub-push-active";
  const make = () => ({
    endpoint: SUB.endpoint, expirationTime: null, options: { userVisibleOnly: true },
    toJSON() { return SUB; }, getKey() { return null; },
    unsubscribe() { sessionStorage.removeItem(KEY); return Promise.resolve(true); },
  });
  PushManager.prototype.subscribe = function (options) {
    window.__pushOptions = options;
    sessionStorage.setItem(KEY, "1");
    return Promise.resolve(make());
  };
  PushManager.prototype.getSubscription = function () {
    return Promise.resolve(sessionStorage.getItem(KEY) ? make() : null);
  };
})();
"""


class App:
    def __init__(
        self, env: WebEnv, site: SiteFixture, fake: FakePushService, context: BrowserContext, page: Page
    ) -> None:
        self.env, self.site, self.fake, self.context, self.page = env, site, fake, context, page
        self.publisher = site.adapter()
        self.cdp: CDPSession | None = None
        self.registration: str | None = None

    async def service_worker(self) -> str:
        scope: str = await self.page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
        self.cdp = await self.context.new_cdp_session(self.page)
        found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_registration(event: dict[str, Any]) -> None:
            for r in event.get("registrations", []):
                if r.get("scopeURL") == scope and not r.get("isDeleted") and not found.done():
                    found.set_result(r["registrationId"])

        self.cdp.on("ServiceWorker.workerRegistrationUpdated", on_registration)
        await self.cdp.send("ServiceWorker.enable")
        self.registration = await asyncio.wait_for(found, 10)
        return scope

    async def push_to_worker(self, plaintext: dict[str, Any]) -> None:
        """What the push service does once it has the message: hand it to the service worker."""
        assert self.cdp is not None and self.registration is not None
        await self.cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": self.env.base, "registrationId": self.registration, "data": json.dumps(plaintext)},
        )

    async def alert_ids(self) -> list[str]:
        ids: list[str] = await self.page.eval_on_selector_all(
            "#alerts li[data-id]", "els => els.map(e => e.dataset.id)"
        )
        return ids

    async def wait_for_ids(self, expected: list[str]) -> None:
        for _ in range(100):
            if await self.alert_ids() == expected:
                return
            await asyncio.sleep(0.1)
        assert await self.alert_ids() == expected


@pytest.fixture
async def app(tmp_path: Path, browser: Browser) -> AsyncIterator[App]:
    async with FakePushService(vapid_public_key=PUBLIC) as fake:
        channels = {
            "website": {"options": {"site_dir": str(tmp_path / "www" / "{tenant}")}},
            "app_push": {
                "credentials": {"vapid_private_key": PRIVATE},
                "options": {
                    "subject": "mailto:bousai@example.jp",
                    "allowed_hosts": ["127.0.0.1"],
                    "allow_http": True,
                },
            },
        }
        async with web_env(tmp_path, channels=channels) as e:
            site = SiteFixture(tmp_path / "www" / "anamizu", url=f"{e.base}/site/anamizu/")
            context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP")
            await context.grant_permissions(["notifications"], origin=e.base)
            await context.add_init_script(STUB % json.dumps(fake.subscribe("phone")))
            page = await context.new_page()
            yield App(e, site, fake, context, page)
            await context.close()
            await site.close()


async def test_a_resident_signs_up_gets_an_alert_and_its_cancel_offline_too(app: App) -> None:
    page = app.page
    await app.publisher.send(site_delivery(alert("tsunami-1", event="大津波警報", kind="tsunami")))
    await page.goto(f"{app.env.base}/app/anamizu/")
    scope = await app.service_worker()
    assert scope == f"{app.env.base}/app/anamizu/"
    await app.wait_for_ids(["tsunami-1"])
    assert "大津波警報" in await page.inner_text("#banner")

    # Choose a district, a language and topics, and sign up.
    # Choosing English turns the app into English at once (the page is written again in it).
    async with page.expect_navigation():
        await page.select_option("#language", "en")
    await page.check("input[name=district][value=kawashima]")
    await page.check("input[name=topic][value=避難]")
    await page.click("#subscribe")
    await page.wait_for_selector("#status:has-text('Signed up')")
    key = await page.evaluate("Array.from(new Uint8Array(window.__pushOptions.applicationServerKey))")
    assert bytes(key) == b64d(PUBLIC), "the app subscribed with the town's VAPID key"

    audiences = Audiences(app.env.ledger.db)
    (person,) = await audiences.people("anamizu")
    assert person.districts == ("kawashima",) and person.language == "en" and person.topics == ("避難",)
    ((channel, address),) = person.endpoints
    assert (
        channel == "app_push"
        and json.loads(address)["endpoint"] == app.fake.subscribers["phone"].subscription["endpoint"]
    )

    # The choice is kept on the phone.
    await page.reload()
    assert await page.is_checked("input[name=district][value=kawashima]")
    assert await page.input_value("#language") == "en"
    assert await page.is_visible("#unsubscribe")

    # An evacuation order for 川島: the site publishes it, the push goes to the stored subscription.
    order = alert("evac-1", districts=("kawashima",), status=Status.EXERCISE)
    await app.publisher.send(site_delivery(order, audience="district:kawashima"))
    pusher = WebPushAdapter(
        WebPushSettings(
            vapid_private_key=SecretStr(PRIVATE),
            subject="mailto:bousai@example.jp",
            hosts=HostPolicy(hosts=("127.0.0.1",), allow_http=True),
            public_url=app.env.base,
        )
    )
    try:
        recipients = [
            r.address for r in await audiences.recipients("anamizu", "district:kawashima", "app_push")
        ]
        push = delivery(
            "app_push",
            text("【訓練】川島地区に避難指示", title="【訓練】避難指示", language="en"),
            alert=order,
            recipients=recipients,
        )
        result = await pusher.send(push)
    finally:
        await pusher.close()
    assert result.accepted == 1
    (received,) = app.fake.delivered("phone")
    assert received.message is not None and received.message["drill"] is True
    await app.push_to_worker(received.message)
    await app.wait_for_ids(["tsunami-1", "evac-1"])
    titles: list[str] = await page.evaluate(
        "navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n => n.title))"
    )
    assert titles == ["【訓練】避難指示"]

    # The order is cancelled: it leaves the app's list at the next push.
    await app.publisher.send(site_delivery(follow_up(order, "evac-1-c", MsgType.CANCEL)))
    await app.push_to_worker(
        {**received.message, "id": "evac-1-c", "msgType": "Cancel", "title": "【訓練】取消"}
    )
    await app.wait_for_ids(["tsunami-1"])

    # Offline, the app opens from the service worker with the last alerts it saw.
    await app.context.set_offline(True)
    await page.reload()
    await app.wait_for_ids(["tsunami-1"])
    assert await page.is_visible("#offline")
    await app.context.set_offline(False)

    # Leaving deletes the sign-up.
    await page.reload()
    await page.click("#unsubscribe")
    await page.wait_for_selector("#status:has-text('Notifications stopped')")
    assert await audiences.count("anamizu", "public", "app_push") == 0
    assert [p for p in await audiences.people("anamizu") if p.endpoints] == []


async def test_a_safety_check_is_answered_in_the_app_on_a_phone(app: App) -> None:
    from broadcaster.coverage.safety import standing
    from broadcaster.model import now
    from tests.rules_helpers import manual

    page = app.page
    await page.goto(f"{app.env.base}/app/anamizu/")
    await app.service_worker()
    await page.check("input[name=district][value=kawashima]")
    await page.click("#subscribe")
    await page.wait_for_selector("#status:has-text('登録しました')")
    check = manual(status="Actual", kind="evacuation", event="避難指示", headline="安否確認",
                   parameters={"safety_check": "yes"}, at=now())  # fmt: skip
    await app.env.ledger.record_alert(check)

    # Without a safety check in the address the panel stays hidden; the notification's link shows it.
    assert not await page.is_visible("#safety")
    await page.goto(f"{app.env.base}/app/anamizu/?safety={check.identifier}")
    await page.wait_for_selector("#safety", state="visible")
    buttons = await page.eval_on_selector_all("#safety .answer", "els => els.map(e => e.textContent.trim())")
    assert buttons == ["無事", "支援が必要", "避難済み"]
    box = await page.locator("#safety .answer").first.bounding_box()
    assert box is not None and box["width"] >= 300 and box["height"] >= 44, "a thumb finds it at 390 px"
    await page.fill("#safety-note", "公民館にいます")
    await page.click("#safety .answer-evacuated")
    await page.wait_for_selector("#safety-status[data-outcome=recorded]")
    assert "避難済み" in await page.inner_text("#safety-status")
    (person,) = await Audiences(app.env.ledger.db).people("anamizu")
    got = await standing(app.env.ledger.db, "anamizu", check.identifier, person.household_key)
    assert got is not None and (got.answer, got.note) == ("evacuated", "公民館にいます")


# Kana and kanji: what a reader of Vietnamese or English cannot read.
JAPANESE = r"[\u3040-\u30ff\u4e00-\u9fff]"
# Everything the app shows except the language chooser, which names each language in itself.
OWN_TEXT = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll("#language, label[for=language], noscript").forEach(n => n.remove());
  return copy.innerText;
}"""


async def test_a_vietnamese_reader_gets_the_app_in_vietnamese_with_english_district_names(app: App) -> None:
    browser = app.context.browser
    assert browser is not None
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    page = await context.new_page()
    await page.goto(f"{app.env.base}/app/anamizu/")
    await page.wait_for_selector("#alerts p")  # nothing published yet: the app says it could not load
    assert await page.get_attribute("html", "lang") == "vi"
    assert await page.inner_text("#now-title") == "Thông tin đang có hiệu lực"
    assert await page.inner_text("#settings-title") == "Cài đặt thông báo"
    assert await page.inner_text("#alerts") == "Không tải được thông tin. Hãy thử lại ở nơi có kết nối."
    assert await page.inner_text("#subscribe") == "Nhận thông báo"
    districts = await page.eval_on_selector_all(
        "label.choice:has(input[name=district])", "l => l.map(e => e.innerText.trim())"
    )
    assert districts == ["Kawashima", "Omachi"]
    assert "Động đất" in await page.inner_text("form#subscribe-form")
    own = await page.evaluate(OWN_TEXT)
    assert not re.search(JAPANESE, own), re.findall(f"{JAPANESE}+", own)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await page.screenshot(path=str(SHOTS / "app-vi-390.png"), full_page=True)
    await context.close()


async def test_an_english_reader_who_chooses_english_gets_the_app_in_english(app: App) -> None:
    page = app.page
    await page.goto(f"{app.env.base}/app/anamizu/")  # a Japanese browser: the app starts in Japanese
    assert await page.inner_text("#now-title") == "発表中の情報"
    async with page.expect_navigation():
        await page.select_option("#language", "en")
    await page.wait_for_selector("#alerts p")
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.inner_text("#now-title") == "Alerts in force"
    assert (
        await page.inner_text("#alerts")
        == "Could not load the information. Try again where you have a connection."
    )
    assert await page.input_value("#language") == "en"
    assert "Kawashima" in await page.inner_text("form#subscribe-form")
    own = await page.evaluate(OWN_TEXT)
    assert not re.search(JAPANESE, own), re.findall(f"{JAPANESE}+", own)
    # An alert the town sent in English too: its English title and the district's English name.
    drill = alert("drill-1", status=Status.EXERCISE, districts=("kawashima",))
    english = text("Evacuation order for Kawashima", language="en", title="Evacuation order (drill)")
    sent = site_delivery(drill, audience="district:kawashima")
    await app.publisher.send(sent.model_copy(update={"texts": (*sent.texts, english)}))
    await page.reload()
    await page.wait_for_selector("#alerts li.alert")
    assert await page.inner_text("#alerts li.alert h3") == "Drill Evacuation order (drill)"
    assert await page.inner_text("#banner") == "Drill: Evacuation order (drill)"
    assert (await page.inner_text("#alerts li.alert .meta")).endswith("· Kawashima")
    # The alert opens on the town's page in English, and so does the link to the site.
    href = await page.get_attribute("#alerts li.alert h3 a", "href")
    assert href is not None and href.endswith("/en/alerts/drill-1.html"), href
    assert await page.locator("a[href='/site/anamizu/en/']").count() >= 1
    own = await page.evaluate(OWN_TEXT)
    assert not re.search(JAPANESE, own), re.findall(f"{JAPANESE}+", own)
    # Signing up keeps English, and so does the next visit without ?lang=.
    await app.service_worker()
    await page.click("#subscribe")
    await page.wait_for_selector("#status:has-text('Signed up')")
    await page.goto(f"{app.env.base}/app/anamizu/")
    await page.wait_for_selector("html[lang=en] #alerts p")
    await page.set_viewport_size({"width": 1366, "height": 900})
    await page.screenshot(path=str(SHOTS / "app-en-1366.png"), full_page=True)
