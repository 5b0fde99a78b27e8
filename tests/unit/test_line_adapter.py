"""The LINE adapter against the fake Messaging API on loopback, through the real line-bot-sdk."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.outbound.line import LineAdapter, LineSettings, classify, retry_key
from adapters.outbound.line.adapter import aggregation_unit
from broadcaster.channels import ChannelAdapter
from broadcaster.errors import ConfigError, PermanentError, QuotaExceededError, TransientError
from broadcaster.settings import ChannelSettings
from tests.canaries import canary
from tests.fakes.deliveries import delivery, env_for, text, user_ids
from tests.fakes.line import MONTHLY_LIMIT, FakeLine

TOKEN = canary("line-token")
Make = Callable[..., LineAdapter]
BUBBLE: dict[str, Any] = {
    "type": "bubble",
    "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "大津波警報"}]},
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeLine]:
    async with FakeLine(token=TOKEN) as server:
        yield server


@pytest.fixture
async def make(fake: FakeLine) -> AsyncIterator[Make]:
    made: list[LineAdapter] = []

    def factory(**overrides: Any) -> LineAdapter:
        fields: dict[str, Any] = {"token": SecretStr(TOKEN), "base_url": fake.url, "timeout": 2.0}
        fields.update(overrides)
        adapter = LineAdapter(LineSettings(**fields), tenant="anamizu", public_url="https://bousai.example")
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        await adapter.close()


def test_adapter_satisfies_the_channel_protocol() -> None:
    adapter = LineAdapter(LineSettings(token=SecretStr("t")), tenant="anamizu", public_url="https://x")
    assert isinstance(adapter, ChannelAdapter)
    assert (LineAdapter.name, LineAdapter.addressing) == ("line", "both")
    assert (LineAdapter.max_text_length, LineAdapter.max_recipients_per_request) == (5000, 500)
    assert LineAdapter.required_credentials == ("token",)


def test_retry_key_is_a_stable_uuid_per_dispatch() -> None:
    key = retry_key("9c7a09c702d0d041c255fdae920e1430")
    assert uuid.UUID(key).version == 5
    assert key == retry_key("9c7a09c702d0d041c255fdae920e1430")
    assert key != retry_key("9c7a09c702d0d041c255fdae920e1431")


async def test_batch_is_a_multicast_with_retry_key_and_token(fake: FakeLine, make: Make) -> None:
    ids = user_ids(500)
    d = delivery("line", recipients=ids, audience="district:kawashima")
    result = await make().send(d)

    (seen,) = fake.requests
    assert seen.path == "/v2/bot/message/multicast"
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.retry_key == retry_key(d.idempotency_key)
    assert seen.body["to"] == ids
    assert seen.body["messages"] == [{"type": "text", "text": d.texts[0].body}]
    assert seen.body["notificationDisabled"] is False
    assert (result.mode, result.accepted, result.provider_ref) == ("live", 500, seen.request_id)
    assert fake.recipients() == ids


async def test_no_recipients_is_a_broadcast(fake: FakeLine, make: Make) -> None:
    result = await make().send(delivery("line"))
    (seen,) = fake.requests
    assert seen.path == "/v2/bot/message/broadcast"
    assert "to" not in seen.body
    assert result.detail is not None and result.detail.startswith("broadcast")


async def test_a_configured_audience_is_a_narrowcast(fake: FakeLine, make: Make) -> None:
    target = {"recipient": {"type": "audience", "audienceGroupId": 5614991017776}}
    adapter = make(narrowcast={"public": target})
    result = await adapter.send(delivery("line"))
    seen, progress = fake.requests
    assert seen.path == "/v2/bot/message/narrowcast"
    assert progress.path == "/v2/bot/message/progress/narrowcast"
    assert result.accepted == fake.followers and result.provider_ref == seen.request_id
    assert seen.body["recipient"] == target["recipient"]
    assert seen.retry_key is not None


async def test_one_leader_is_a_push_naming_the_message(fake: FakeLine, make: Make) -> None:
    (leader,) = user_ids(1)
    result = await make().send(delivery("line", recipients=[leader], audience="leaders:kawashima"))
    (seen,) = fake.requests
    assert seen.path == "/v2/bot/message/push"
    assert seen.body["to"] == leader
    assert result.detail is not None and "message ids 5" in result.detail


async def test_push_single_off_multicasts_one(fake: FakeLine, make: Make) -> None:
    await make(push_single=False).send(delivery("line", recipients=user_ids(1), audience="officers"))
    assert fake.requests[0].path == "/v2/bot/message/multicast"


async def test_two_languages_and_a_bubble_in_one_request(fake: FakeLine, make: Make) -> None:
    vi = text("Lệnh sơ tán cấp 4", language="vi")
    ja = text("避難指示（警戒レベル4）", extra={"flex": BUBBLE})
    await make().send(delivery("line", vi, ja, recipients=user_ids(3), audience="district:kawashima"))
    messages = fake.requests[0].body["messages"]
    assert [m["type"] for m in messages] == ["text", "text", "flex"]
    assert [messages[0]["text"], messages[1]["text"]] == ["Lệnh sơ tán cấp 4", "避難指示（警戒レベル4）"]
    assert messages[2]["altText"] == "避難指示（警戒レベル4）"
    assert messages[2]["contents"]["type"] == "bubble"


async def test_a_bubble_the_sdk_refuses_is_left_out_not_the_warning(fake: FakeLine, make: Make) -> None:
    broken = {"type": "bubble", "body": {"type": "box"}}  # a box needs a layout and contents
    result = await make().send(
        delivery("line", text("大津波警報", extra={"flex": broken}), recipients=user_ids(2))
    )
    assert [m["type"] for m in fake.requests[0].body["messages"]] == ["text"]
    assert result.detail is not None and "flex bubble left out" in result.detail


async def test_retry_after_a_lost_answer_is_not_delivered_twice(fake: FakeLine, make: Make) -> None:
    adapter = make()
    d = delivery("line", recipients=user_ids(10), audience="district:omachi")
    fake.lose_answer_next(502)
    with pytest.raises(TransientError):
        await adapter.send(d)
    result = await adapter.send(d)

    assert [r.status for r in fake.requests] == [502, 409]
    assert fake.requests[0].retry_key == fake.requests[1].retry_key
    assert len(fake.delivered) == 1, "LINE dropped the repeat"
    assert result.provider_ref == fake.requests[0].request_id
    assert result.accepted == 10
    assert result.detail is not None and "already accepted" in result.detail


async def test_a_redelivered_dispatch_in_a_new_process_is_dropped_by_line(fake: FakeLine, make: Make) -> None:
    d = delivery("line", recipients=user_ids(2), audience="district:kawashima")
    await make().send(d)
    # Another adapter (a restarted worker) sends the same dispatch: same key, no second delivery.
    await make().send(d.model_copy(update={"attempt": 2}))
    assert len(fake.delivered) == 1
    assert fake.requests[1].status == 409


async def test_different_batches_have_different_keys(fake: FakeLine, make: Make) -> None:
    adapter = make()
    await adapter.send(delivery("line", recipients=user_ids(2), batch=0, audience="district:kawashima"))
    await adapter.send(delivery("line", recipients=user_ids(2, 2), batch=1, audience="district:kawashima"))
    assert len(fake.delivered) == 2
    assert fake.requests[0].retry_key != fake.requests[1].retry_key


async def test_rate_limit_is_transient_with_a_short_wait(fake: FakeLine, make: Make) -> None:
    fake.rate_limit_next()
    with pytest.raises(TransientError) as e:
        await make().send(delivery("line", recipients=user_ids(2)))
    assert e.value.retry_after == 1.0
    assert fake.delivered == []


async def test_monthly_quota_is_a_quota_error(fake: FakeLine, make: Make) -> None:
    fake.monthly_limit = 100
    with pytest.raises(QuotaExceededError) as e:
        await make().send(delivery("line", recipients=user_ids(101)))
    assert "monthly message quota" in str(e.value)
    assert not e.value.retriable
    assert fake.requests[0].body is not None and fake.delivered == []


@pytest.mark.parametrize(
    ("status", "header", "wait"), [(500, None, None), (502, None, None), (503, "7", 7.0)]
)
async def test_server_errors_are_transient(
    fake: FakeLine, make: Make, status: int, header: str | None, wait: float | None
) -> None:
    fake.fail_next(status, headers={"Retry-After": header} if header else None)
    with pytest.raises(TransientError) as e:
        await make().send(delivery("line", recipients=user_ids(2)))
    assert e.value.retry_after == wait


@pytest.mark.parametrize("status", [400, 403, 404])
async def test_client_errors_are_permanent(fake: FakeLine, make: Make, status: int) -> None:
    fake.fail_next(status, "nope")
    with pytest.raises(PermanentError, match=str(status)):
        await make().send(delivery("line", recipients=user_ids(2)))


async def test_a_wrong_token_says_so(fake: FakeLine, make: Make) -> None:
    with pytest.raises(PermanentError, match="channel access token"):
        await make(token=SecretStr("stale")).send(delivery("line"))


async def test_ids_that_are_not_line_ids_are_skipped_not_fatal(fake: FakeLine, make: Make) -> None:
    ids = [*user_ids(3), "not-a-user", "U123"]
    result = await make().send(delivery("line", recipients=ids))
    assert fake.requests[0].body["to"] == ids[:3]
    assert result.accepted == 3
    assert result.detail is not None and "2 recipient(s) not LINE user ids" in result.detail


async def test_a_batch_of_only_bad_ids_is_permanent(fake: FakeLine, make: Make) -> None:
    with pytest.raises(PermanentError, match="no LINE user id"):
        await make().send(delivery("line", recipients=["someone@example.jp"]))
    assert fake.requests == []


async def test_unreachable_is_transient(tmp_path: Path) -> None:
    adapter = LineAdapter(
        LineSettings(token=SecretStr("t"), base_url="http://127.0.0.1:9", timeout=1.0),
        tenant="anamizu",
        public_url="https://x",
    )
    try:
        with pytest.raises(TransientError, match="unreachable"):
            await adapter.send(delivery("line"))
    finally:
        await adapter.close()


async def test_slow_answer_is_a_transient_timeout(fake: FakeLine, make: Make) -> None:
    fake.latency = 1.0
    with pytest.raises(TransientError, match="did not answer"):
        await make(timeout=0.2).send(delivery("line"))


async def test_concurrent_batches_each_go_once(fake: FakeLine, make: Make) -> None:
    fake.latency = 0.05
    adapter = make()
    deliveries = [
        delivery("line", recipients=user_ids(500, n * 500), batch=n, audience="public-batched")
        for n in range(8)
    ]
    results = await asyncio.gather(*(adapter.send(d) for d in deliveries))
    assert sum(r.accepted for r in results) == 4000
    assert len(set(fake.recipients())) == 4000 == len(fake.recipients())


async def test_quota_reads_allowance_and_use(fake: FakeLine, make: Make) -> None:
    fake.monthly_limit = 15000
    adapter = make()
    await adapter.send(delivery("line", recipients=user_ids(20)))
    quota = await adapter.quota()
    assert (quota.limit, quota.used, quota.remaining) == (15000, 20, 14980)


def test_classify_tells_quota_from_rate_limit() -> None:
    assert isinstance(classify(429, f'{{"message": "{MONTHLY_LIMIT}"}}', {}), QuotaExceededError)
    rate = classify(429, '{"message": "The API rate limit has been exceeded. Try again later."}', {})
    assert isinstance(rate, TransientError)
    assert isinstance(classify(500, "", {"Retry-After": "3"}), TransientError)
    assert isinstance(classify(400, "not json", None), PermanentError)


def test_from_settings_reads_options_and_refuses_unknown(tmp_path: Path) -> None:
    cfg = ChannelSettings(
        credentials={"token": SecretStr(TOKEN)},
        options={"base_url": "http://127.0.0.1:1", "push_single": False},
        timeout_s=10,
    )
    adapter = LineAdapter.from_settings("line", cfg, env_for(tmp_path))
    assert isinstance(adapter, LineAdapter)
    with pytest.raises(ConfigError, match="unknown options colour"):
        LineAdapter.from_settings(
            "line",
            ChannelSettings(credentials={"token": SecretStr(TOKEN)}, options={"colour": 1}),
            env_for(tmp_path),
        )
    bad_target = ChannelSettings(
        credentials={"token": SecretStr(TOKEN)},
        options={"narrowcast": {"public": {"recipient": {"type": 5}}}},
    )
    with pytest.raises(ConfigError):
        LineAdapter.from_settings("line", bad_target, env_for(tmp_path))


NARROW = {"public": {"recipient": {"type": "audience", "audienceGroupId": 5614991017776}}}


async def test_a_narrowcast_that_fails_after_its_202_is_not_recorded_as_delivered(
    fake: FakeLine, make: Make
) -> None:
    fake.fail_narrowcast(4, "audience is less than 50")
    with pytest.raises(PermanentError, match=r"errorCode 4: an audience of fewer than 50"):
        await make(narrowcast=NARROW).send(delivery("line"))
    assert fake.requests[0].status == 202 and fake.delivered == []


async def test_a_narrowcast_still_sending_is_read_again_on_retry_and_sent_once(
    fake: FakeLine, make: Make
) -> None:
    fake.narrowcast_phases = ("waiting", "sending", "succeeded")
    adapter = make(narrowcast=NARROW, narrowcast_wait=0.0)
    d = delivery("line")
    with pytest.raises(TransientError, match="still waiting"):
        await adapter.send(d)
    with pytest.raises(TransientError, match="still sending"):
        await adapter.send(d)
    result = await adapter.send(d)
    assert result.accepted == fake.followers
    sends = [r.status for r in fake.requests if r.path == "/v2/bot/message/narrowcast"]
    assert sends == [202, 409, 409]
    assert len(fake.delivered) == 1


async def test_the_hourly_broadcast_limit_waits_a_minute_not_a_second(fake: FakeLine, make: Make) -> None:
    fake.hourly_limit = 1
    adapter = make()
    await adapter.send(delivery("line"))
    with pytest.raises(TransientError, match="limited per hour") as e:
        await adapter.send(delivery("line", batch=1))
    assert e.value.retry_after is not None and e.value.retry_after >= 60
    assert len(fake.delivered) == 1, "a 429 reaches nobody"


@pytest.mark.parametrize(
    ("message", "error", "wait"),
    [
        ("You have exceeded the target limit for additional messages.", QuotaExceededError, None),
        ("The number of concurrent operations has been exceeded.", TransientError, 30.0),
        ("Something LINE has not named before.", TransientError, 60.0),
    ],
)
async def test_each_429_is_told_by_its_message(
    fake: FakeLine, make: Make, message: str, error: type[Exception], wait: float | None
) -> None:
    fake.fail_next(429, message)
    with pytest.raises(error) as e:
        await make().send(delivery("line", recipients=user_ids(2)))
    if wait is not None:
        assert isinstance(e.value, TransientError) and e.value.retry_after == wait
    else:
        assert "additional messages" in str(e.value)


async def test_parts_are_joined_by_utf16_units_as_line_counts_them(fake: FakeLine, make: Make) -> None:
    # Six parts of 2,400 𠮷 (4,800 UTF-16 units each): joined by code points, two made one
    # 9,601-unit message that LINE refuses.
    parts = tuple("𠮷" * 2400 for _ in range(6))
    d = delivery("line", text("𠮷" * 10, parts=parts), recipients=user_ids(2))
    result = await make().send(d)
    assert result.accepted == 2
    (sent,) = fake.delivered
    assert len(sent.messages) == 5
    assert all(len(m["text"].encode("utf-16-le")) // 2 <= 5000 for m in sent.messages)


async def test_multicasts_and_pushes_name_the_events_aggregation_unit(fake: FakeLine, make: Make) -> None:
    adapter = make()
    d = delivery("line", recipients=user_ids(3), audience="district:kawashima")
    result = await adapter.send(d)
    await adapter.send(delivery("line", recipients=user_ids(1, 5), audience="leaders:kawashima"))
    await adapter.send(delivery("line", batch=2))
    multicast, push, broadcast = (r.body for r in fake.requests)
    unit = aggregation_unit("anamizu", d.alert.event_key)
    assert multicast["customAggregationUnits"] == push["customAggregationUnits"] == [unit]
    assert "customAggregationUnits" not in broadcast, "LINE takes units only on push and multicast"
    assert len(unit) <= 30 and unit.replace("_", "").isalnum()
    assert result.detail is not None and unit in result.detail


async def test_statistics_per_request_id_and_per_aggregation_unit(fake: FakeLine, make: Make) -> None:
    adapter = make()
    d = delivery("line")
    sent = await adapter.send(d)
    await adapter.send(delivery("line", recipients=user_ids(3), batch=1, audience="district:kawashima"))
    unit = aggregation_unit("anamizu", d.alert.event_key)
    assert sent.provider_ref is not None
    fake.open(sent.provider_ref, 40)
    fake.open(unit, 2)
    multicast_id = fake.requests[1].request_id
    got = await adapter.statistics("anamizu", d.alert.event_key, [sent.provider_ref, multicast_id], date(2025, 1, 1))
    by = {s.ref: s for s in got}
    assert (by[sent.provider_ref].kind, by[sent.provider_ref].delivered, by[sent.provider_ref].opened) == (
        "request",
        fake.followers,
        40,
    )
    assert multicast_id not in by, "LINE reports multicasts per unit, not per request"
    assert (by[unit].kind, by[unit].opened) == ("unit", 2)


async def test_the_pace_keeps_every_second_under_lines_multicast_limit(fake: FakeLine, make: Make) -> None:
    # LINE allows 200 multicast requests a second per channel and processes none of a request it
    # answers 429. The adapter's pace is 150 a second; its first burst must not add a second's
    # worth on top of that (300 in the first second, before).
    fake.per_second_limit = 200
    adapter = make()
    sends = [
        adapter.send(delivery("line", recipients=user_ids(2, 2 * n), batch=n, audience="district:kawashima"))
        for n in range(320)
    ]
    results = await asyncio.gather(*sends, return_exceptions=True)
    refused = [r for r in results if isinstance(r, BaseException)]
    # The fake shares this event loop: on a loaded machine a late loop can bunch a few arrivals
    # into one second. A bucket of a whole second's worth had 120 of the 320 refused.
    assert len(refused) <= 3, f"{len(refused)} multicasts refused: {refused[:1]}"
    assert all(isinstance(r, TransientError) for r in refused)
    assert len(fake.delivered) == 320 - len(refused) and all(r.path.endswith("multicast") for r in fake.requests)
