"""The fcm channel by topic (adapter = "fcm_topics"): one request per device topic, FCM fans out.

Against the fake FCM HTTP v1 endpoint, which keeps each device's topic subscriptions and fans a
topic message out to them, with FCM's documented errors (tests/fakes/fcm.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.outbound.fcm import FcmTopicAdapter
from broadcaster.audience import device_topics, dispatch_topic
from broadcaster.channels import AdapterEnv, Delivery
from broadcaster.errors import PermanentError, TransientError
from broadcaster.settings import ChannelSettings
from tests.fakes.deliveries import delivery, text
from tests.fakes.fcm import FakeFcm, condition_holds, service_account
from tests.fakes.site import alert

ACCOUNT, PUBLIC = service_account()
KAWASHIMA_JA = dispatch_topic("anamizu", "district:kawashima", "ja")
KAWASHIMA_VI = dispatch_topic("anamizu", "district:kawashima", "vi")
TOWN_JA = dispatch_topic("anamizu", "public", "ja")


@pytest.fixture
async def fake() -> AsyncIterator[FakeFcm]:
    async with FakeFcm(email=ACCOUNT["client_email"], public_key=PUBLIC) as server:
        # Four phones: two in 川島 (Japanese, Vietnamese), one in 中居 (Japanese), and one in
        # 川島 that chose only 気象.
        phones = {
            "phone-kawashima-ja": device_topics("anamizu", ("kawashima",), "ja"),
            "phone-kawashima-vi": device_topics("anamizu", ("kawashima",), "vi"),
            "phone-nakai-ja-000": device_topics("anamizu", ("nakai",), "ja"),
            "phone-kawashima-wx": device_topics("anamizu", ("kawashima",), "ja", ("気象",)),
        }
        for phone, topics in phones.items():
            server.devices.add(phone)
            server.subscribe(phone, *topics)
        yield server


@pytest.fixture
async def adapter(fake: FakeFcm, tmp_path: Path) -> AsyncIterator[FcmTopicAdapter]:
    made = FcmTopicAdapter.from_settings("fcm", settings(fake), env(tmp_path))
    yield made
    await made.close()


def env(tmp_path: Path) -> AdapterEnv:
    return AdapterEnv("anamizu", "穴水町", tmp_path, tmp_path, "https://bousai.example.jp")


def settings(fake: FakeFcm, **options: Any) -> ChannelSettings:
    return ChannelSettings(
        credentials={"service_account": SecretStr(json.dumps(ACCOUNT))},
        options={"base_url": fake.base, "token_url": fake.token_url, **options},
    )


def to(topics: list[str], a: Any = None) -> Delivery:
    return delivery(
        "fcm",
        text("【穴水町】避難指示を発令しました。", title="【穴水町】避難指示"),
        text("Lệnh sơ tán đã được ban hành.", language="vi", title="Lệnh sơ tán"),
        alert=a or alert("ev-1"),
        recipients=topics,
        audience="district:kawashima",
    )


def test_topic_names_are_what_fcm_accepts_and_what_the_app_subscribes_to() -> None:
    assert KAWASHIMA_VI == "anamizu.kawashima.vi"
    assert dispatch_topic("anamizu", "district:kawashima/避難", "ja-x-easy") == "anamizu.kawashima.ja-x-easy.evacuation"
    assert TOWN_JA == "anamizu.all.ja"
    topics = device_topics("anamizu", ("kawashima",), "zh-Hans", ("気象", "evacuation"))
    assert topics == [
        "anamizu.all.zh-Hans",
        "anamizu.all.zh-Hans.weather",
        "anamizu.all.zh-Hans.evacuation",
        "anamizu.kawashima.zh-Hans",
        "anamizu.kawashima.zh-Hans.weather",
        "anamizu.kawashima.zh-Hans.evacuation",
    ]
    # Every topic of a resident who chose none: the whole town and one district, 9 each.
    assert len(device_topics("anamizu", ("kawashima",), "ja")) == 18
    with pytest.raises(ValueError, match="by role"):
        dispatch_topic("anamizu", "leaders", "ja")


async def test_one_request_per_topic_reaches_every_subscribed_phone_once_in_its_language(
    fake: FakeFcm, adapter: FcmTopicAdapter
) -> None:
    result = await adapter.send(to([KAWASHIMA_JA, KAWASHIMA_VI]))
    await fake.fanned_out()
    assert result.accepted == 2 and result.gone == ()
    assert fake.requests == 2, "one request per topic, not per phone"
    assert [m["topic"] for m in fake.sent] == [KAWASHIMA_JA, KAWASHIMA_VI]
    assert dict(fake.fanned) == {"phone-kawashima-ja": 1, "phone-kawashima-wx": 1, "phone-kawashima-vi": 1}
    (vi,) = fake.delivered("phone-kawashima-vi")
    assert vi["notification"] == {"title": "Lệnh sơ tán", "body": "Lệnh sơ tán đã được ban hành."}
    (ja,) = fake.delivered("phone-kawashima-ja")
    assert ja["notification"]["title"] == "【穴水町】避難指示"
    assert "token" not in ja and ja["android"]["collapse_key"] == ja["data"]["event"]


async def test_a_topic_nobody_follows_is_accepted_and_nothing_is_ever_gone(
    fake: FakeFcm, adapter: FcmTopicAdapter
) -> None:
    empty = dispatch_topic("anamizu", "district:kabuto", "ko")
    result = await adapter.send(to([empty, "not a topic!"]))
    assert result.accepted == 1
    assert result.gone == (), "a topic names no device to prune"
    assert (400, "not a topic!") not in fake.refused
    with pytest.raises(PermanentError, match="INVALID_ARGUMENT"):
        await adapter.send(to(["not a topic!"], alert("ev-bad")))


async def test_quota_exceeded_waits_a_minute_and_only_that_topic_is_sent_again(
    fake: FakeFcm, adapter: FcmTopicAdapter
) -> None:
    fake.fail_next(KAWASHIMA_VI, 429)
    d = to([KAWASHIMA_JA, KAWASHIMA_VI])
    with pytest.raises(TransientError, match="QUOTA_EXCEEDED") as quota:
        await adapter.send(d)
    assert quota.value.retry_after is not None and quota.value.retry_after >= 60
    result = await adapter.send(d)
    await fake.fanned_out()
    assert result.accepted == 2
    assert [m["topic"] for m in fake.sent] == [KAWASHIMA_JA, KAWASHIMA_VI]
    assert fake.fanned["phone-kawashima-ja"] == 1, "the Japanese topic was not sent twice"


async def test_unavailable_honours_retry_after(fake: FakeFcm, adapter: FcmTopicAdapter) -> None:
    fake.fail_next(TOWN_JA, 503, retry_after="17")
    with pytest.raises(TransientError, match="UNAVAILABLE") as unavailable:
        await adapter.send(to([TOWN_JA], alert("ev-3")))
    assert unavailable.value.retry_after == 17


async def test_the_minutes_quota_counts_messages_and_says_when_it_refills(
    fake: FakeFcm, adapter: FcmTopicAdapter
) -> None:
    fake.quota_per_minute = 1
    with pytest.raises(TransientError, match=r"1 of 2 topics to retry.*QUOTA_EXCEEDED") as quota:
        await adapter.send(to([KAWASHIMA_JA, KAWASHIMA_VI]))
    assert quota.value.retry_after is not None and quota.value.retry_after >= 59


async def test_too_many_fan_outs_in_progress_are_refused_as_quota(
    fake: FakeFcm, adapter: FcmTopicAdapter
) -> None:
    fake.max_fanouts = 1
    fake.fanout_s = 30.0  # the first fan-out still runs when the second topic is sent
    adapter_one_at_a_time = FcmTopicAdapter.from_settings("fcm", settings(fake, concurrency=1), env(Path(".")))
    try:
        with pytest.raises(TransientError, match="QUOTA_EXCEEDED"):
            await adapter_one_at_a_time.send(to([KAWASHIMA_JA, KAWASHIMA_VI]))
    finally:
        await adapter_one_at_a_time.close()
    assert [m["topic"] for m in fake.sent] == [KAWASHIMA_JA]
    for task in list(fake._pending):
        task.cancel()


def test_the_fakes_condition_is_fcms_grammar() -> None:
    subscribed = {"a", "b"}
    assert condition_holds("'a' in topics && ('b' in topics || 'c' in topics)", subscribed)
    assert not condition_holds("'c' in topics || 'a' in topics && 'd' in topics", subscribed)
    with pytest.raises(ValueError, match="five"):
        condition_holds(" || ".join(f"'t{i}' in topics" for i in range(6)), subscribed)


async def test_a_condition_message_reaches_the_phones_it_matches(fake: FakeFcm, adapter: FcmTopicAdapter) -> None:
    await adapter.tokens.token()
    token = next(iter(fake._tokens))
    condition = f"'{KAWASHIMA_JA}.weather' in topics || '{KAWASHIMA_VI}' in topics"
    msg = {
        "message": {
            "condition": condition,
            "notification": {"title": "t", "body": "b"},
            "android": {"priority": "HIGH", "ttl": "60s"},
            "apns": {"headers": {"apns-priority": "10"}},
        }
    }
    session = adapter._client()
    async with session.post(
        f"{fake.base}/v1/projects/anamizu-app/messages:send", json=msg, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 200
    both = {**msg["message"], "topic": KAWASHIMA_JA}
    async with session.post(
        f"{fake.base}/v1/projects/anamizu-app/messages:send",
        json={"message": both},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 400 and "message" in (await resp.text())
    await fake.fanned_out()
    assert dict(fake.fanned) == {"phone-kawashima-ja": 1, "phone-kawashima-vi": 1, "phone-kawashima-wx": 1}
