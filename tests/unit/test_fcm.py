"""The fcm channel against a fake OAuth token endpoint and a fake FCM HTTP v1 endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.outbound.fcm import FcmAdapter
from broadcaster.channels import AdapterEnv, ChannelAdapter, Delivery
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.model import Severity, Status, Urgency
from broadcaster.settings import ChannelSettings
from tests.fakes.deliveries import delivery, text
from tests.fakes.fcm import FakeFcm, service_account
from tests.fakes.site import alert

ACCOUNT, PUBLIC = service_account()


@pytest.fixture
async def fake() -> AsyncIterator[FakeFcm]:
    async with FakeFcm(email=ACCOUNT["client_email"], public_key=PUBLIC) as server:
        server.devices.update({"device-token-aaaa", "device-token-bbbb", "device-token-cccc"})
        yield server


@pytest.fixture
async def adapter(fake: FakeFcm, tmp_path: Path) -> AsyncIterator[FcmAdapter]:
    made = FcmAdapter.from_settings("fcm", channel_settings(fake), env(tmp_path))
    yield made
    await made.close()


def env(tmp_path: Path) -> AdapterEnv:
    return AdapterEnv("anamizu", "穴水町", tmp_path, tmp_path, "https://bousai.example.jp")


def channel_settings(fake: FakeFcm, **options: Any) -> ChannelSettings:
    return ChannelSettings(
        credentials={"service_account": SecretStr(json.dumps(ACCOUNT))},
        options={"base_url": fake.base, "token_url": fake.token_url, **options},
    )


def to(tokens: list[str], a: Any = None) -> Delivery:
    return delivery(
        "fcm",
        text("【穴水町】避難指示を発令しました。", title="【穴水町】避難指示"),
        alert=a or alert("ev-1"),
        recipients=tokens,
    )


def test_settings(fake: FakeFcm, tmp_path: Path) -> None:
    adapter = FcmAdapter.from_settings("fcm", channel_settings(fake), env(tmp_path))
    assert isinstance(adapter, ChannelAdapter)
    assert adapter.settings.project_id == "anamizu-app"
    with pytest.raises(ConfigError, match="not JSON"):
        FcmAdapter.from_settings(
            "fcm", ChannelSettings(credentials={"service_account": SecretStr("{")}), env(tmp_path)
        )
    with pytest.raises(ConfigError, match="unknown options"):
        FcmAdapter.from_settings("fcm", channel_settings(fake, colour="red"), env(tmp_path))


async def test_sends_one_message_per_token_with_an_oauth_token(fake: FakeFcm, adapter: FcmAdapter) -> None:
    result = await adapter.send(to(["device-token-aaaa", "device-token-bbbb"]))
    assert (result.accepted, result.gone) == (2, ())
    assert fake.grants == 1, "one access token for the whole batch"
    message = fake.delivered("device-token-aaaa")[0]
    assert message["notification"] == {
        "title": "【穴水町】避難指示",
        "body": "【穴水町】避難指示を発令しました。",
    }
    assert message["data"]["url"] == "https://bousai.example.jp/alerts/anamizu/ev-1"
    assert message["android"] == {
        "priority": "HIGH",
        "ttl": "900s",
        "collapse_key": message["data"]["event"],
        "notification": {"tag": message["data"]["event"]},
    }
    assert message["apns"]["headers"]["apns-priority"] == "10"
    await adapter.send(to(["device-token-cccc"], alert("ev-2")))
    assert fake.grants == 1, "the token is reused until it nears expiry"


async def test_a_drill_is_labelled_and_not_urgent(fake: FakeFcm, adapter: FcmAdapter) -> None:
    await adapter.send(to(["device-token-aaaa"], alert("drill", status=Status.EXERCISE)))
    (message,) = fake.delivered()
    assert message["notification"]["title"].startswith("【訓練】")
    assert message["android"]["priority"] == "NORMAL" and message["apns"]["headers"]["apns-priority"] == "5"


@pytest.mark.parametrize(
    ("severity", "urgency", "high"),
    [
        (Severity.SEVERE, Urgency.EXPECTED, True),  # a JMA warning
        (Severity.SEVERE, Urgency.PAST, True),  # a 震度 report
        (Severity.EXTREME, Urgency.FUTURE, True),
        (Severity.MODERATE, Urgency.EXPECTED, False),
        (Severity.MINOR, Urgency.IMMEDIATE, True),
    ],
)
async def test_severe_and_extreme_alerts_are_high_priority_on_android_and_ios(
    fake: FakeFcm, adapter: FcmAdapter, severity: Severity, urgency: Urgency, high: bool
) -> None:
    await adapter.send(to(["device-token-aaaa"], alert("ev-s", severity=severity, urgency=urgency)))
    (message,) = fake.delivered()
    assert message["android"]["priority"] == ("HIGH" if high else "NORMAL")
    assert message["apns"]["headers"]["apns-priority"] == ("10" if high else "5")


async def test_unregistered_and_invalid_tokens_are_gone(fake: FakeFcm, adapter: FcmAdapter) -> None:
    result = await adapter.send(to(["device-token-aaaa", "device-token-unknown", "bad token!"]))
    assert result.accepted == 1
    assert set(result.gone) == {"device-token-unknown", "bad token!"}


async def test_an_expired_access_token_is_renewed_once(fake: FakeFcm, adapter: FcmAdapter) -> None:
    await adapter.send(to(["device-token-aaaa"]))
    fake.revoke_tokens()
    result = await adapter.send(to(["device-token-bbbb"], alert("ev-2")))
    assert result.accepted == 1 and fake.grants == 2


async def test_unavailable_is_retried_for_those_tokens_only(fake: FakeFcm, adapter: FcmAdapter) -> None:
    fake.fail_next("device-token-bbbb", 503)
    d = to(["device-token-aaaa", "device-token-bbbb"])
    with pytest.raises(TransientError, match="1 of 2 tokens to retry"):
        await adapter.send(d)
    result = await adapter.send(d)
    assert result.accepted == 2
    assert len(fake.delivered("device-token-aaaa")) == 1, "no second message to the first phone"


async def test_a_refused_service_account_fails_the_dispatch(fake: FakeFcm, tmp_path: Path) -> None:
    other, _ = service_account()
    settings = channel_settings(fake).model_copy(
        update={"credentials": {"service_account": SecretStr(json.dumps(other))}}
    )
    adapter = FcmAdapter.from_settings("fcm", settings, env(tmp_path))
    try:
        with pytest.raises(PermanentError, match="refused the service account"):
            await adapter.send(to(["device-token-aaaa"]))
    finally:
        await adapter.close()
    assert fake.sent == []


async def test_a_broken_apns_key_refuses_ios_devices_without_renewing_the_oauth_token(
    fake: FakeFcm, adapter: FcmAdapter
) -> None:
    # THIRD_PARTY_AUTH_ERROR is per message: renewing the OAuth token for each iOS device ran
    # into the token endpoint's rate limit, and the Android devices behind them were retried.
    ios = [f"ios-device-{i:04d}" for i in range(8)]
    fake.devices.update(ios)
    fake.ios_devices.update(ios)
    fake.apns_broken = True
    fake.grant_limit = 3
    result = await adapter.send(to(["device-token-aaaa", *ios, "device-token-bbbb"]))
    assert result.accepted == 2, "both Android devices got it at once"
    assert fake.grants == 1 and fake.token_requests == 1, "one OAuth token for the whole batch"
    assert result.detail is not None and "8 refused" in result.detail
    assert result.gone == (), "an iOS device is not gone because the town's APNs key is broken"
    only_ios = to(ios, alert("ev-ios"))
    with pytest.raises(PermanentError, match=r"THIRD_PARTY_AUTH_ERROR.*APNs"):
        await adapter.send(only_ios)


async def test_a_token_of_another_sender_is_pruned(fake: FakeFcm, adapter: FcmAdapter) -> None:
    fake.other_sender.add("device-token-cccc")
    result = await adapter.send(to(["device-token-aaaa", "device-token-cccc"]))
    assert (result.accepted, result.gone) == (1, ("device-token-cccc",))


async def test_quota_exceeded_waits_at_least_a_minute_and_unavailable_honours_retry_after(
    fake: FakeFcm, adapter: FcmAdapter
) -> None:
    fake.fail_next("device-token-bbbb", 429)
    with pytest.raises(TransientError, match="QUOTA_EXCEEDED") as quota:
        await adapter.send(to(["device-token-aaaa", "device-token-bbbb"]))
    assert quota.value.retry_after is not None and quota.value.retry_after >= 60
    fake.fail_next("device-token-cccc", 429, retry_after="300")
    with pytest.raises(TransientError) as longer:
        await adapter.send(to(["device-token-cccc"], alert("ev-2")))
    assert longer.value.retry_after == 300
    fake.fail_next("device-token-aaaa", 503, retry_after="17")
    with pytest.raises(TransientError, match="UNAVAILABLE") as unavailable:
        await adapter.send(to(["device-token-aaaa"], alert("ev-3")))
    assert unavailable.value.retry_after == 17


async def test_an_expired_oauth_token_is_renewed_once_for_many_devices(
    fake: FakeFcm, adapter: FcmAdapter
) -> None:
    await adapter.send(to(["device-token-aaaa"]))
    fake.revoke_tokens()
    devices = [f"device-token-{i:04d}" for i in range(20)]
    fake.devices.update(devices)
    result = await adapter.send(to(devices, alert("ev-2")))
    assert result.accepted == 20 and fake.grants == 2
