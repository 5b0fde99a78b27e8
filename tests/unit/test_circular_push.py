"""A circular's push notice opens the leader's own page (app_push honours the text's link)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from adapters.outbound.app_push import HostPolicy, WebPushAdapter, WebPushSettings, parse_subscription
from adapters.outbound.app_push.vapid import generate
from broadcaster.circulars import notice
from tests.fakes.deliveries import delivery
from tests.fakes.site import alert
from tests.fakes.webpush import FakePushService

PRIVATE, PUBLIC = generate()
POLICY = HostPolicy(hosts=("127.0.0.1",), allow_http=True)
LINK = "https://bousai.anamizu.example.jp/c/0123456789abcdef0123456789abcdef.1.1790000000.AAAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture
async def fake() -> AsyncIterator[FakePushService]:
    async with FakePushService(vapid_public_key=PUBLIC) as service:
        yield service


async def test_a_push_notice_opens_the_personal_link(fake: FakePushService) -> None:
    about = notice.About(tenant_name="穴水町", title="川島地区に避難指示", status="Actual", form="safety", role="leader")
    text = notice.compose("app_push", "notify", about, LINK)
    adapter = WebPushAdapter(
        WebPushSettings(
            vapid_private_key=SecretStr(PRIVATE),
            subject="mailto:bousai@town.anamizu.example.jp",
            hosts=POLICY,
            public_url="https://bousai.anamizu.example.jp",
            timeout=2.0,
        )
    )
    try:
        recipient = parse_subscription(fake.subscribe("leader"), POLICY).canonical()
        result = await adapter.send(delivery("app_push", text, alert=alert("ev-1"), recipients=[recipient], audience="circular:d:notify"))
    finally:
        await adapter.close()
    assert result.accepted == 1
    (pushed,) = fake.delivered()
    assert pushed.message is not None
    assert pushed.message["url"] == LINK
    assert pushed.message["title"] == "【穴水町】回覧：川島地区に避難指示"
    assert "/c/" not in pushed.message["body"]
