"""The webhook channel against fake receivers that verify signatures and refuse replays."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from adapters.outbound.webhook import WebhookAdapter, verify
from adapters.outbound.webhook.signing import HEADER, InvalidSignature, header
from broadcaster.channels import AdapterEnv, ChannelAdapter
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.model import Alert, MsgType, Status
from broadcaster.settings import ChannelSettings
from tests.fakes.site import alert, follow_up, site_delivery
from tests.fakes.webhook import FakeReceivers

SECRETS = {"cms": "cms-secret-0123456789abcdef", "partner": "partner-secret-fedcba9876543210"}


@pytest.fixture
async def receivers() -> AsyncIterator[FakeReceivers]:
    async with FakeReceivers(dict(SECRETS)) as fake:
        yield fake


def env(tmp_path: Path) -> AdapterEnv:
    return AdapterEnv("anamizu", "穴水町", tmp_path, tmp_path, "https://bousai.example.jp")


def settings(receivers: FakeReceivers, **over: Any) -> ChannelSettings:
    return ChannelSettings(
        credentials={"secret": SecretStr(SECRETS["cms"]), "secret_partner": SecretStr(SECRETS["partner"])},
        options={"subscribers": [{"name": n, "url": receivers.url(n)} for n in SECRETS], **over},
    )


@pytest.fixture
async def adapter(receivers: FakeReceivers, tmp_path: Path) -> AsyncIterator[WebhookAdapter]:
    made = WebhookAdapter.from_settings("webhook", settings(receivers), env(tmp_path))
    yield made
    await made.close()


def test_settings(receivers: FakeReceivers, tmp_path: Path) -> None:
    adapter = WebhookAdapter.from_settings("webhook", settings(receivers), env(tmp_path))
    assert isinstance(adapter, ChannelAdapter)
    by_name = {s.name: s.secret.get_secret_value() for s in adapter.settings.subscribers}
    assert by_name == SECRETS, "secret_<name> overrides the channel's secret"
    with pytest.raises(ConfigError, match="subscribers"):
        WebhookAdapter.from_settings(
            "webhook", ChannelSettings(credentials={"secret": SecretStr("x")}), env(tmp_path)
        )
    dup = settings(
        receivers,
        subscribers=[{"name": "a", "url": "https://a.example"}, {"name": "a", "url": "https://b.example"}],
    )
    with pytest.raises(ConfigError, match="unique"):
        WebhookAdapter.from_settings("webhook", dup, env(tmp_path))
    with pytest.raises(ConfigError):
        WebhookAdapter.from_settings(
            "webhook", settings(receivers, subscribers=[{"name": "x", "url": "ftp://x"}]), env(tmp_path)
        )


async def test_every_subscriber_gets_the_signed_alert(
    receivers: FakeReceivers, adapter: WebhookAdapter
) -> None:
    a = alert("ev-1", districts=("kawashima",))
    d = site_delivery(a, "【穴水町】避難指示を発令しました。", audience="district:kawashima")
    result = await adapter.send(d)
    assert result.accepted == 2 and result.mode == "live"
    for name in SECRETS:
        (payload,) = receivers.processed[name]
        assert payload["idempotency_key"] == d.idempotency_key
        assert payload["type"] == "alert" and payload["drill"] is False
        assert payload["dispatch"]["audience"] == "district:kawashima"
        assert payload["texts"][0]["body"] == "【穴水町】避難指示を発令しました。"
        assert payload["url"] == "https://bousai.example.jp/alerts/anamizu/ev-1"
        assert Alert.model_validate(payload["alert"]) == a, "CAP-aligned JSON of the whole alert"
        assert payload["alert"]["msgType"] == "Alert"
    first = receivers.seen[0]
    assert first.headers["Idempotency-Key"] == d.idempotency_key
    assert first.headers["X-Broadcaster-Event"] == "alert"
    assert first.headers["Content-Type"].startswith("application/json")


async def test_a_cancel_and_a_drill_say_what_they_are(
    receivers: FakeReceivers, adapter: WebhookAdapter
) -> None:
    drill = alert("d-1", status=Status.EXERCISE)
    await adapter.send(site_delivery(drill))
    await adapter.send(site_delivery(follow_up(drill, "d-1-c", MsgType.CANCEL)))
    kinds = [(p["type"], p["drill"]) for p in receivers.processed["cms"]]
    assert kinds == [("alert", True), ("cancel", True)]
    assert receivers.seen[-1].headers["X-Broadcaster-Event"] == "cancel"


async def test_a_failing_subscriber_does_not_make_the_others_receive_twice(
    receivers: FakeReceivers, adapter: WebhookAdapter
) -> None:
    receivers.fail_next("partner", 503, retry_after="3")
    d = site_delivery(alert("ev-1"))
    with pytest.raises(TransientError) as err:
        await adapter.send(d)
    assert err.value.retry_after == 3.0
    result = await adapter.send(d.model_copy(update={"attempt": 2}))
    assert result.accepted == 2
    assert [len(receivers.processed[n]) for n in SECRETS] == [1, 1]
    posts_to_cms = [s for s in receivers.seen if s.receiver == "cms"]
    assert len(posts_to_cms) == 1, "the retry went only to the subscriber that missed it"


async def test_a_refusing_subscriber_ends_the_dispatch_after_the_others_have_it(
    receivers: FakeReceivers, adapter: WebhookAdapter
) -> None:
    receivers.fail_next("partner", 410)
    with pytest.raises(PermanentError, match="partner: HTTP 410"):
        await adapter.send(site_delivery(alert("ev-1")))
    assert len(receivers.processed["cms"]) == 1


async def test_a_repeat_after_a_crash_is_dropped_by_the_receiver_by_its_key(
    receivers: FakeReceivers, adapter: WebhookAdapter, tmp_path: Path
) -> None:
    d = site_delivery(alert("ev-1"))
    await adapter.send(d)
    restarted = WebhookAdapter.from_settings("webhook", settings(receivers), env(tmp_path))
    try:
        await asyncio.sleep(1.01)  # a later second: a new signature, the same key
        result = await restarted.send(d)
    finally:
        await restarted.close()
    assert result.accepted == 2
    assert [len(receivers.processed[n]) for n in SECRETS] == [1, 1]
    assert [s.reason for s in receivers.seen[-2:]] == ["duplicate dropped"] * 2


async def test_receivers_reject_tampered_replayed_and_stale_requests(
    receivers: FakeReceivers, adapter: WebhookAdapter
) -> None:
    await adapter.send(site_delivery(alert("ev-1")))
    original = next(s for s in receivers.seen if s.receiver == "cms")
    url = receivers.url("cms")
    async with aiohttp.ClientSession() as s:
        tampered = original.body.replace("避難指示".encode(), "解除".encode())
        headers = {HEADER: original.headers[HEADER], "Idempotency-Key": "new-key"}
        async with s.post(url, data=tampered, headers=headers) as r:
            assert r.status == 401
        async with s.post(
            url, data=original.body, headers={HEADER: original.headers[HEADER], "Idempotency-Key": "k2"}
        ) as r:
            assert r.status == 409, "a captured request sent again is refused"
        stale = header(SECRETS["cms"].encode(), int(time.time()) - 3600, original.body)
        async with s.post(url, data=original.body, headers={HEADER: stale, "Idempotency-Key": "k3"}) as r:
            assert r.status == 401
        wrong_key = header(b"not the secret", int(time.time()), original.body)
        async with s.post(url, data=original.body, headers={HEADER: wrong_key, "Idempotency-Key": "k4"}) as r:
            assert r.status == 401
    assert len(receivers.processed["cms"]) == 1


def test_verify_accepts_either_of_two_secrets_while_they_rotate() -> None:
    body = b'{"a":1}'
    now = int(time.time())
    both = f"{header(b'old', now, body)},v1={header(b'new', now, body).split('v1=')[1]}"
    assert verify(b"new", both, body, now=now) == now
    assert verify(b"old", both, body, now=now) == now
    with pytest.raises(InvalidSignature):
        verify(b"other", both, body, now=now)
    with pytest.raises(InvalidSignature, match="timestamp"):
        verify(b"new", "v1=abc", body, now=now)
