"""The X adapter against the fake X API v2 (TLS on loopback), through tweepy's real async client."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.outbound.sns import PostLog, XAdapter, XSettings
from adapters.outbound.sns.x import post_cost
from broadcaster.channels import ChannelAdapter
from broadcaster.errors import ConfigError, PermanentError, QuotaExceededError, TransientError
from broadcaster.settings import ChannelSettings
from tests.fakes.deliveries import cancel_of, delivery, env_for, text
from tests.fakes.lalert import town_alert
from tests.fakes.x import Credentials, FakeX

Make = Callable[..., XAdapter]


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeX]:
    async with FakeX(tmp_path) as server:
        yield server


@pytest.fixture
async def make(fake: FakeX, tmp_path: Path) -> AsyncIterator[Make]:
    made: list[XAdapter] = []

    def factory(credentials: Credentials | None = None, log: str = "x.jsonl", **overrides: Any) -> XAdapter:
        assert fake.ca is not None
        creds = (credentials or fake.credentials).as_dict()
        fields: dict[str, Any] = {k: SecretStr(v) for k, v in creds.items()}
        fields.update(connect_to=fake.url, ca_file=fake.ca.ca_file, timeout=5.0)
        fields.update(overrides)
        adapter = XAdapter(XSettings(**fields), PostLog(tmp_path / log))
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        await adapter.close()


def test_adapter_satisfies_the_channel_protocol(tmp_path: Path) -> None:
    creds = {k: SecretStr(v) for k, v in Credentials().as_dict().items()}
    adapter = XAdapter(XSettings(**creds), PostLog(tmp_path / "x.jsonl"))
    assert isinstance(adapter, ChannelAdapter)
    assert (XAdapter.name, XAdapter.addressing, XAdapter.max_text_length) == ("x", "broadcast", 140)
    assert len(XAdapter.required_credentials) == 4


async def test_a_post_signed_with_oauth1(fake: FakeX, make: Make) -> None:
    d = delivery("x", text("【穴水町】避難指示を発令しました。https://bousai.example/a/1"))
    result = await make().send(d)
    (seen,) = fake.requests
    assert (seen.method, seen.path, seen.status) == ("POST", "/2/tweets", 201)
    assert seen.headers["Host"] == "api.twitter.com"
    assert seen.headers["Authorization"].startswith("OAuth ")
    assert 'oauth_consumer_key="ck-anamizu"' in seen.headers["Authorization"]
    assert seen.body == {"text": d.texts[0].body}
    (tweet,) = fake.standing()
    assert result.provider_ref == tweet.id
    assert result.accepted == 1


async def test_parts_are_a_reply_chain(fake: FakeX, make: Make) -> None:
    d = delivery("x", text("x", parts=["一つ目", "二つ目", "三つ目"]))
    await make().send(d)
    first, second, third = fake.standing()
    assert [first.text, second.text, third.text] == ["一つ目", "二つ目", "三つ目"]
    assert (first.in_reply_to, second.in_reply_to, third.in_reply_to) == (None, first.id, second.id)


async def test_a_japanese_part_over_xs_weight_is_split_again(fake: FakeX, make: Make) -> None:
    long = "避難してください。" * 20  # 180 characters, 360 by X's weights
    await make().send(delivery("x", text(long)))
    posts = fake.standing()
    assert len(posts) == 2
    assert "".join(p.text for p in posts) == long
    assert all(r.status == 201 for r in fake.requests)


async def test_cancel_replies_under_the_original(fake: FakeX, make: Make) -> None:
    adapter = make()
    original = town_alert()
    await adapter.send(
        delivery("x", text("避難指示", parts=["避難指示 1/2", "避難指示 2/2"]), alert=original)
    )
    result = await adapter.send(
        delivery("x", text("【取消】避難指示を取り消します。"), alert=cancel_of(original))
    )
    head = fake.standing()[0]
    cancel = fake.standing()[-1]
    assert cancel.text == "【取消】避難指示を取り消します。"
    assert cancel.in_reply_to == head.id
    assert result.detail is not None and f"in reply to {head.id}" in result.detail


async def test_cancel_deletes_the_original_when_configured(fake: FakeX, make: Make) -> None:
    adapter = make(delete_on_cancel=True)
    original = town_alert()
    await adapter.send(delivery("x", text("a", parts=["避難指示です", "続き"]), alert=original))
    await adapter.send(delivery("x", text("【取消】避難指示を取り消します。"), alert=cancel_of(original)))
    (left,) = fake.standing()
    assert left.text == "【取消】避難指示を取り消します。"
    assert left.in_reply_to is None
    assert [r.method for r in fake.requests] == ["POST", "POST", "POST", "DELETE", "DELETE"]


async def test_cancel_found_by_a_restarted_adapter(fake: FakeX, make: Make) -> None:
    original = town_alert()
    await make().send(delivery("x", text("避難指示"), alert=original))
    # A new process reads the same post log from the var dir.
    await make().send(delivery("x", text("取消"), alert=cancel_of(original)))
    head, cancel = fake.standing()
    assert cancel.in_reply_to == head.id


async def test_cancel_of_an_original_posted_elsewhere_is_posted_on_its_own(fake: FakeX, make: Make) -> None:
    original = town_alert()
    await make(log="machine-a.jsonl").send(delivery("x", text("避難指示"), alert=original))
    result = await make(log="machine-b.jsonl").send(delivery("x", text("取消"), alert=cancel_of(original)))
    assert fake.standing()[-1].in_reply_to is None
    assert result.detail is not None and "not found" in result.detail


async def test_retry_continues_a_broken_thread(fake: FakeX, make: Make) -> None:
    adapter = make()
    d = delivery("x", text("x", parts=["一", "二", "三"]))
    fake.fail_next(503, "Service Unavailable", after=1)
    with pytest.raises(TransientError):
        await adapter.send(d)
    # The retry posts parts 2 and 3 only, under part 1.
    result = await adapter.send(d.model_copy(update={"attempt": 2}))
    one, two, three = fake.standing()
    assert [one.text, two.text, three.text] == ["一", "二", "三"]
    assert (two.in_reply_to, three.in_reply_to) == (one.id, two.id)
    assert result.provider_ref == one.id
    assert result.detail is not None and "continued after 1 post" in result.detail


async def test_a_redelivered_dispatch_whose_posts_are_out_posts_nothing(fake: FakeX, make: Make) -> None:
    adapter = make()
    d = delivery("x", text("避難指示"))
    first = await adapter.send(d)
    again = await adapter.send(d.model_copy(update={"attempt": 2}))
    assert len(fake.standing()) == 1
    assert again.provider_ref == first.provider_ref
    assert again.detail is not None and "nothing posted again" in again.detail


async def test_duplicate_refused_on_a_retry_counts_as_posted(fake: FakeX, make: Make, tmp_path: Path) -> None:
    d = delivery("x", text("避難指示"))
    await make(log="lost.jsonl").send(d)
    # The answer was lost before the post log was written: a retry meets X's duplicate check.
    result = await make(log="empty.jsonl").send(d.model_copy(update={"attempt": 2}))
    assert len(fake.standing()) == 1
    assert result.detail is not None and "already on X" in result.detail


async def test_duplicate_text_of_another_alert_is_posted_marked_with_its_time(fake: FakeX, make: Make) -> None:
    # Two events' cancels read alike: X refuses the second as duplicate content; it must still go.
    adapter = make()
    await adapter.send(delivery("x", text("警報を解除しました。"), alert=town_alert(identifier="a1")))
    result = await adapter.send(delivery("x", text("警報を解除しました。"), alert=town_alert(identifier="ev-a2")))
    first, second = (t.text for t in fake.standing())
    assert first == "警報を解除しました。"
    assert second.startswith("警報を解除しました。 [") and second.endswith("#v-a2]")
    assert result.detail is not None and "marked with its time" in result.detail


async def test_spent_credits_are_a_quota_error_that_names_them_and_is_kept_for_the_status(
    fake: FakeX, make: Make, tmp_path: Path
) -> None:
    fake.credits = 0.25
    state = tmp_path / "x.credits.json"
    adapter = make()
    adapter._network.state_file = state
    await adapter.send(delivery("x", text("避難指示 https://bousai.example/a/1"), alert=town_alert(identifier="u1")))
    assert json.loads(state.read_text())["ok"] is True
    with pytest.raises(QuotaExceededError, match="credits are spent"):
        await adapter.send(delivery("x", text("避難指示 https://bousai.example/a/2"), alert=town_alert(identifier="u2")))
    assert fake.requests[-1].status == 402
    saved = json.loads(state.read_text())
    assert saved["ok"] is False and "credits" in saved["detail"]
    assert post_cost("https://bousai.example/a/1") > 10 * post_cost("避難指示")


async def test_a_read_only_app_is_told_to_get_write_permission(fake: FakeX, make: Make) -> None:
    fake.read_only = True
    with pytest.raises(PermanentError, match="read-only permission"):
        await make().send(delivery("x", text("避難指示")))


async def test_rate_limit_waits_until_the_reset(fake: FakeX, make: Make) -> None:
    fake.rate_limit_next(reset_in=120)
    with pytest.raises(TransientError) as e:
        await make().send(delivery("x", text("避難指示")))
    assert e.value.retry_after is not None
    assert 100 < e.value.retry_after <= 121
    assert fake.requests[0].status == 429


async def test_usage_cap_is_a_quota_error(fake: FakeX, make: Make) -> None:
    fake.usage_cap_next()
    with pytest.raises(QuotaExceededError, match="usage cap"):
        await make().send(delivery("x", text("避難指示")))


async def test_server_error_is_transient(fake: FakeX, make: Make) -> None:
    fake.fail_next(503, "Service Unavailable")
    with pytest.raises(TransientError):
        await make().send(delivery("x", text("避難指示")))


async def test_wrong_secret_fails_the_signature_check(fake: FakeX, make: Make) -> None:
    wrong = Credentials(consumer_secret="not-the-secret")
    with pytest.raises(PermanentError, match="credentials"):
        await make(credentials=wrong).send(delivery("x", text("避難指示")))
    assert fake.requests[0].reason == "bad_signature"


async def test_untrusted_certificate_is_transient_not_silently_accepted(fake: FakeX, tmp_path: Path) -> None:
    creds = {k: SecretStr(v) for k, v in fake.credentials.as_dict().items()}
    adapter = XAdapter(XSettings(**creds, connect_to=fake.url, timeout=5.0), PostLog(tmp_path / "x.jsonl"))
    try:
        with pytest.raises(TransientError, match="unreachable"):
            await adapter.send(delivery("x", text("避難指示")))
    finally:
        await adapter.close()
    assert fake.requests == []


def test_from_settings_needs_no_more_than_credentials(tmp_path: Path) -> None:
    creds = {k: SecretStr(v) for k, v in Credentials().as_dict().items()}
    adapter = XAdapter.from_settings(
        "x", ChannelSettings(credentials=creds, options={"delete_on_cancel": True}), env_for(tmp_path)
    )
    assert isinstance(adapter, XAdapter)
    with pytest.raises(ConfigError, match="unknown options"):
        XAdapter.from_settings(
            "x", ChannelSettings(credentials=creds, options={"thread": 1}), env_for(tmp_path)
        )


def test_reset_header_arithmetic() -> None:
    from adapters.outbound.sns.x import _reset_in

    class Response:
        def __init__(self) -> None:
            self.headers = {
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": str(int(time.time()) + 3600),
            }

    wait = _reset_in(Response(), int(time.time()) + 60)
    assert wait is not None and 3500 < wait <= 3600
