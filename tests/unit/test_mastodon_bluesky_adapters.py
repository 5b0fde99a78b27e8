"""The Mastodon (Mastodon.py) and Bluesky (atproto) adapters against their fakes on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.outbound.sns import (
    BlueskyAdapter,
    BlueskySettings,
    MastodonAdapter,
    MastodonSettings,
    PostLog,
)
from adapters.outbound.sns.bluesky import RateState, clock_id, link_facets, tid
from broadcaster.channels import ChannelAdapter
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.settings import ChannelSettings
from tests.fakes.bluesky import TID, FakeBluesky
from tests.fakes.deliveries import cancel_of, delivery, env_for, text
from tests.fakes.lalert import town_alert
from tests.fakes.mastodon import FakeMastodon

MakeM = Callable[..., MastodonAdapter]
MakeB = Callable[..., BlueskyAdapter]


@pytest.fixture
async def masto() -> AsyncIterator[FakeMastodon]:
    async with FakeMastodon() as server:
        yield server


@pytest.fixture
async def make_m(masto: FakeMastodon, tmp_path: Path) -> AsyncIterator[MakeM]:
    made: list[MastodonAdapter] = []

    def factory(log: str = "mastodon.jsonl", **overrides: Any) -> MastodonAdapter:
        fields: dict[str, Any] = {
            "access_token": SecretStr(masto.token),
            "base_url": masto.url,
            "timeout": 5.0,
        }
        fields.update(overrides)
        adapter = MastodonAdapter(MastodonSettings(**fields), PostLog(tmp_path / log))
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        await adapter.close()


@pytest.fixture
async def sky() -> AsyncIterator[FakeBluesky]:
    async with FakeBluesky() as server:
        yield server


@pytest.fixture
async def make_b(sky: FakeBluesky, tmp_path: Path) -> AsyncIterator[MakeB]:
    made: list[BlueskyAdapter] = []

    def factory(log: str = "bluesky.jsonl", **overrides: Any) -> BlueskyAdapter:
        fields: dict[str, Any] = {
            "handle": sky.handle,
            "app_password": SecretStr(sky.password),
            "base_url": sky.url,
            "timeout": 5.0,
        }
        fields.update(overrides)
        adapter = BlueskyAdapter(BlueskySettings(**fields), PostLog(tmp_path / log))
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        await adapter.close()


def test_both_satisfy_the_channel_protocol(tmp_path: Path) -> None:
    m = MastodonAdapter(
        MastodonSettings(access_token=SecretStr("t"), base_url="https://m.example"), PostLog(tmp_path / "m")
    )
    b = BlueskyAdapter(
        BlueskySettings(handle="a.bsky.social", app_password=SecretStr("p")), PostLog(tmp_path / "b")
    )
    assert isinstance(m, ChannelAdapter) and isinstance(b, ChannelAdapter)
    assert (MastodonAdapter.name, MastodonAdapter.max_text_length) == ("mastodon", 500)
    assert (BlueskyAdapter.name, BlueskyAdapter.max_text_length) == ("bluesky", 300)


# --- Mastodon ---------------------------------------------------------------------------------


async def test_mastodon_posts_with_token_language_and_idempotency_key(
    masto: FakeMastodon, make_m: MakeM
) -> None:
    d = delivery("mastodon", text("避難指示を発令しました。"))
    result = await make_m().send(d)
    (seen,) = masto.requests
    assert seen.headers["Authorization"] == f"Bearer {masto.token}"
    assert seen.headers["Idempotency-Key"] == f"{d.idempotency_key}-0"
    assert (seen.form["status"], seen.form["language"], seen.form["visibility"]) == (
        "避難指示を発令しました。",
        "ja",
        "public",
    )
    (status,) = masto.standing()
    assert result.provider_ref == status.id


@pytest.mark.parametrize(
    ("tag", "filed"), [("ja-x-easy", "ja"), ("zh-Hans", "zh-CN"), ("zh-Hant", "zh-TW"), ("pt-BR", "pt-BR"), ("vi", "vi")]
)
async def test_mastodon_files_each_language_under_a_locale_it_knows(
    masto: FakeMastodon, make_m: MakeM, tag: str, filed: str
) -> None:
    # Mastodon replaces a language it does not know with the account's default (here English):
    # the post would be filed under the wrong language, silently.
    await make_m().send(delivery("mastodon", text("知らせ", language=tag)))
    (status,) = masto.standing()
    assert status.language == filed


async def test_mastodon_thread_and_cancel_reply(masto: FakeMastodon, make_m: MakeM) -> None:
    adapter = make_m()
    original = town_alert()
    await adapter.send(delivery("mastodon", text("x", parts=["一", "二"]), alert=original))
    await adapter.send(delivery("mastodon", text("取消"), alert=cancel_of(original)))
    one, two, cancel = masto.standing()
    assert two.in_reply_to_id == one.id
    assert cancel.in_reply_to_id == one.id


async def test_mastodon_cancel_deletes_when_configured(masto: FakeMastodon, make_m: MakeM) -> None:
    adapter = make_m(delete_on_cancel=True)
    original = town_alert()
    await adapter.send(delivery("mastodon", text("避難指示"), alert=original))
    await adapter.send(delivery("mastodon", text("取消"), alert=cancel_of(original)))
    (left,) = masto.standing()
    assert left.text == "取消"


async def test_mastodon_retry_after_lost_answer_gets_the_same_status(
    masto: FakeMastodon, make_m: MakeM
) -> None:
    d = delivery("mastodon", text("避難指示"))
    d = d.model_copy(update={"dispatch": d.dispatch.model_copy(update={"created": datetime.now(UTC)})})
    await make_m().send(d)
    # A worker that lost the post log (another machine) retries within the hour: the server's
    # idempotency key holds.
    await make_m(log="other-machine.jsonl").send(d.model_copy(update={"attempt": 2}))
    assert len(masto.standing()) == 1
    assert masto.requests[1].reason == "idempotent_replay"


async def test_mastodon_rate_limit_waits_for_the_reset(masto: FakeMastodon, make_m: MakeM) -> None:
    masto.rate_limit_next(reset_in=300)
    with pytest.raises(TransientError) as e:
        await make_m().send(delivery("mastodon", text("避難指示")))
    assert e.value.retry_after is not None and 250 < e.value.retry_after <= 301


async def test_mastodon_errors(masto: FakeMastodon, make_m: MakeM) -> None:
    masto.fail_next(503)
    with pytest.raises(TransientError):
        await make_m().send(delivery("mastodon", text("避難指示")))
    with pytest.raises(PermanentError, match="access token"):
        await make_m(access_token=SecretStr("stale")).send(delivery("mastodon", text("避難指示")))
    masto.fail_next(422, "Validation failed")
    with pytest.raises(PermanentError, match="refused the post"):
        await make_m().send(delivery("mastodon", text("避難指示")))


def test_mastodon_needs_its_server(tmp_path: Path) -> None:
    creds = {"access_token": SecretStr("t")}
    with pytest.raises(ConfigError, match="base_url"):
        MastodonAdapter.from_settings("mastodon", ChannelSettings(credentials=creds), env_for(tmp_path))
    ok = MastodonAdapter.from_settings(
        "mastodon",
        ChannelSettings(credentials=creds, options={"base_url": "https://m.example"}),
        env_for(tmp_path),
    )
    assert isinstance(ok, MastodonAdapter)


# --- Bluesky ----------------------------------------------------------------------------------


def test_tid_is_valid_stable_and_ordered_in_time() -> None:
    at = datetime(2025, 7, 10, 2, 41, tzinfo=UTC)
    key = tid(at, "k-0")
    assert TID.fullmatch(key)
    assert key == tid(at, "k-0")
    assert tid(at, "k-0")[:-2] < tid(at.replace(minute=42), "k-0")[:-2]


def test_link_facets_count_utf8_bytes() -> None:
    text_ = "避難所 https://bousai.example/s/1 へ"
    (facet,) = link_facets(text_)
    start = len("避難所 ".encode())
    assert (facet.index.byte_start, facet.index.byte_end) == (
        start,
        start + len(b"https://bousai.example/s/1"),
    )
    assert facet.features[0].uri == "https://bousai.example/s/1"


async def test_bluesky_logs_in_once_and_posts_under_a_derived_key(sky: FakeBluesky, make_b: MakeB) -> None:
    adapter = make_b()
    d = delivery("bluesky", text("避難指示 https://bousai.example/a/1"))
    result = await adapter.send(d)
    await adapter.send(delivery("bluesky", text("別の知らせ"), alert=town_alert(identifier="other")))
    assert sky.logins == 1
    put = next(r for r in sky.requests if r.path.endswith("putRecord"))
    assert put.body["rkey"] == tid(d.dispatch.created, f"{d.idempotency_key}-0")
    record = put.body["record"]
    assert (record["text"], record["langs"]) == ("避難指示 https://bousai.example/a/1", ["ja"])
    assert record["facets"][0]["features"][0]["uri"] == "https://bousai.example/a/1"
    assert result.provider_ref == sky.posts()[0].uri


async def test_bluesky_retry_finds_the_same_record_and_writes_nothing(sky: FakeBluesky, make_b: MakeB) -> None:
    d = delivery("bluesky", text("避難指示"))
    first = await make_b(log="a.jsonl").send(d)
    # The post log was lost (another machine): the retry finds its record under the same key.
    again = await make_b(log="b.jsonl").send(d.model_copy(update={"attempt": 2}))
    (post,) = sky.posts()
    assert post.writes == 1 and first.provider_ref == again.provider_ref == post.uri


async def test_bluesky_thread_and_cancel_reply_with_root_and_parent(sky: FakeBluesky, make_b: MakeB) -> None:
    adapter = make_b()
    original = town_alert()
    await adapter.send(delivery("bluesky", text("x", parts=["一", "二"]), alert=original))
    await adapter.send(
        delivery("bluesky", text("取消", parts=["取消一", "取消二"]), alert=cancel_of(original))
    )
    by_text = {p.value["text"]: p for p in sky.posts()}
    one, two = by_text["一"], by_text["二"]
    assert two.value["reply"]["root"]["uri"] == one.uri
    c1, c2 = by_text["取消一"], by_text["取消二"]
    assert c1.value["reply"]["parent"] == {
        "uri": one.uri,
        "cid": one.cid,
        "$type": "com.atproto.repo.strongRef",
    }
    assert c2.value["reply"]["root"]["uri"] == one.uri, "a cancel's thread keeps the original as its root"
    assert c2.value["reply"]["parent"]["uri"] == c1.uri


async def test_bluesky_cancel_deletes_when_configured(sky: FakeBluesky, make_b: MakeB) -> None:
    adapter = make_b(delete_on_cancel=True)
    original = town_alert()
    await adapter.send(delivery("bluesky", text("避難指示"), alert=original))
    await adapter.send(delivery("bluesky", text("取消"), alert=cancel_of(original)))
    (left,) = sky.posts()
    assert left.value["text"] == "取消"
    assert "reply" not in left.value


async def test_bluesky_refreshes_an_expired_session_instead_of_logging_in(
    sky: FakeBluesky, make_b: MakeB
) -> None:
    adapter = make_b()
    await adapter.send(delivery("bluesky", text("一")))
    sky.expire_tokens()
    await adapter.send(delivery("bluesky", text("二"), alert=town_alert(identifier="b")))
    assert (sky.logins, sky.refreshes) == (1, 1), "refreshSession, not another createSession"
    assert len(sky.posts()) == 2


async def test_bluesky_keeps_its_session_across_restarts_within_the_login_limit(
    sky: FakeBluesky, tmp_path: Path
) -> None:
    # createSession: 30 in five minutes. A worker restarted 40 times (a crash loop, a deploy)
    # logged in 40 times and was refused from the 31st on; the saved session needs one login.
    settings = BlueskySettings(
        handle=sky.handle, app_password=SecretStr(sky.password), base_url=sky.url, timeout=5.0
    )
    for n in range(40):
        adapter = BlueskyAdapter(settings, PostLog(tmp_path / f"log-{n}"), state_dir=tmp_path / "state")
        try:
            await adapter.send(delivery("bluesky", text(f"知らせ{n}"), alert=town_alert(identifier=f"a{n}")))
        finally:
            await adapter.close()
    assert sky.logins == 1 and len(sky.posts()) == 40
    assert oct((tmp_path / "state" / "session").stat().st_mode & 0o777) == "0o600"
    state = RateState.read(tmp_path / "state" / "rate.json")
    assert state is not None and state.limit == 5000 and state.remaining == 5000 - 3 * 40


async def test_bluesky_a_session_refused_at_the_login_limit_names_the_wait(sky: FakeBluesky, make_b: MakeB) -> None:
    sky.session_limit = (0, 300)
    with pytest.raises(TransientError, match="rate limit on post") as e:
        await make_b().send(delivery("bluesky", text("一")))
    assert e.value.retry_after is not None and e.value.retry_after > 200


def _old_tid_collision() -> tuple[Any, Any]:
    """An alert whose two-post thread got one record key under the old scheme (same time, keys
    differing only in a 10-bit hash of "<key>-0" and "<key>-1")."""
    for n in range(20_000):
        a = town_alert(identifier=f"collide-{n}")
        d = delivery("bluesky", text("x", parts=["一", "二"]), alert=a)
        k = d.idempotency_key
        if clock_id(f"{k}-0") == clock_id(f"{k}-1"):
            return a, d
    raise AssertionError("no collision found")


async def test_bluesky_posts_of_one_thread_never_share_a_record_key(sky: FakeBluesky, make_b: MakeB) -> None:
    _, d = _old_tid_collision()
    await make_b().send(d)
    assert sky.overwritten == [], "putRecord replaced the first post of the thread"
    assert sorted(p.value["text"] for p in sky.posts()) == ["一", "二"]


async def test_bluesky_a_key_held_by_another_post_is_not_overwritten(sky: FakeBluesky, make_b: MakeB) -> None:
    adapter = make_b()
    d = delivery("bluesky", text("一"))
    await adapter.send(d)
    (taken,) = sky.posts()
    # Another post under the key this dispatch will derive (another dispatch of the same
    # microsecond whose hash collided): it must survive, and a retry must still find ours.
    other = delivery("bluesky", text("二"), alert=town_alert(identifier="other"))
    rkey = tid(other.dispatch.created, f"{other.idempotency_key}-0")
    sky.records[f"at://{taken.uri.split('/')[2]}/app.bsky.feed.post/{rkey}"] = type(taken)(
        f"at://{taken.uri.split('/')[2]}/app.bsky.feed.post/{rkey}", "bafyreiother", {"text": "他の投稿"}
    )
    result = await adapter.send(other)
    again = await make_b(log="fresh.jsonl").send(other.model_copy(update={"attempt": 2}))
    assert sky.overwritten == []
    assert result.provider_ref == again.provider_ref and result.provider_ref is not None
    assert not result.provider_ref.endswith(rkey)
    assert sorted(p.value["text"] for p in sky.posts()) == ["一", "二", "他の投稿"]


async def test_bluesky_rate_limit_waits_for_the_reset(sky: FakeBluesky, make_b: MakeB) -> None:
    adapter = make_b()
    await adapter.send(delivery("bluesky", text("一")))
    sky.rate_limit_next(reset_in=90)
    with pytest.raises(TransientError) as e:
        await adapter.send(delivery("bluesky", text("二"), alert=town_alert(identifier="b")))
    assert e.value.retry_after is not None and 60 < e.value.retry_after <= 91


async def test_bluesky_errors(sky: FakeBluesky, make_b: MakeB) -> None:
    with pytest.raises(PermanentError, match="app password"):
        await make_b(app_password=SecretStr("wrong")).send(delivery("bluesky", text("一")))
    adapter = make_b()
    await adapter.send(delivery("bluesky", text("一")))
    sky.fail_next(502, "UpstreamFailure", "bad gateway")
    with pytest.raises(TransientError):
        await adapter.send(delivery("bluesky", text("二"), alert=town_alert(identifier="b")))


def test_bluesky_needs_a_handle(tmp_path: Path) -> None:
    creds = {"app_password": SecretStr("p")}
    with pytest.raises(ConfigError, match="handle"):
        BlueskyAdapter.from_settings("bluesky", ChannelSettings(credentials=creds), env_for(tmp_path))


async def test_mastodon_retry_after_the_idempotency_key_expired_finds_the_status_it_made(
    masto: FakeMastodon, make_m: MakeM
) -> None:
    # Mastodon forgets an Idempotency-Key after an hour: a retry two hours later (a long outage,
    # the post log lost) must find the status on the account instead of posting it again.
    d = delivery("mastodon", text("避難指示を発令しました。", parts=["避難指示一", "避難指示二"]))
    first = await make_m().send(d)
    masto.advance(timedelta(hours=2))
    again = await make_m(log="other-machine.jsonl").send(d.model_copy(update={"attempt": 2}))
    assert len(masto.standing()) == 2, "each part once"
    assert again.provider_ref == first.provider_ref
