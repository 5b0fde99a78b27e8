"""The app_push channel (Web Push) against a fake push service that decrypts and checks everything."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from adapters.outbound.app_push import HostPolicy, WebPushAdapter, WebPushSettings, parse_subscription
from adapters.outbound.app_push import payload as push_payload
from adapters.outbound.app_push.vapid import generate, load_private_key, public_key_b64
from broadcaster.channels import AdapterEnv, ChannelAdapter, Delivery
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.model import MsgType, Severity, Status, Urgency, now
from broadcaster.settings import ChannelSettings
from tests.fakes.deliveries import delivery, text
from tests.fakes.site import alert, follow_up
from tests.fakes.webpush import FakePushService, b64e

PRIVATE, PUBLIC = generate()
Make = Callable[..., WebPushAdapter]


@pytest.fixture
async def fake() -> AsyncIterator[FakePushService]:
    async with FakePushService(vapid_public_key=PUBLIC) as service:
        yield service


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    made: list[WebPushAdapter] = []

    def factory(**over: Any) -> WebPushAdapter:
        fields: dict[str, Any] = {
            "vapid_private_key": SecretStr(PRIVATE),
            "subject": "mailto:bousai@town.anamizu.example.jp",
            "hosts": HostPolicy(hosts=("127.0.0.1",), allow_http=True),
            "public_url": "https://bousai.anamizu.example.jp",
            "timeout": 2.0,
        }
        fields.update(over)
        adapter = WebPushAdapter(WebPushSettings(**fields))
        made.append(adapter)
        return adapter

    yield factory
    for a in made:
        await a.close()


POLICY = HostPolicy(hosts=("127.0.0.1",), allow_http=True)


def addresses(fake: FakePushService, *names: str) -> list[str]:
    return [parse_subscription(fake.subscribe(n), POLICY).canonical() for n in names]


def push(
    recipients: list[str],
    a: Any = None,
    body: str = "【穴水町】川島地区に避難指示を発令しました。",
    title: str = "【穴水町】避難指示",
    language: str = "ja",
) -> Delivery:
    return delivery(
        "app_push",
        text(body, title=title, language=language),
        alert=a or alert("ev-1"),
        recipients=recipients,
        audience="district:kawashima",
    )


def test_the_adapter_is_a_channel_adapter(tmp_path: Path) -> None:
    env = AdapterEnv("anamizu", "穴水町", tmp_path, tmp_path, "https://bousai.example.jp")
    settings = ChannelSettings(
        credentials={"vapid_private_key": SecretStr(PRIVATE)}, options={"extra_hosts": ["push.example.jp"]}
    )
    adapter = WebPushAdapter.from_settings("app_push", settings, env)
    assert isinstance(adapter, ChannelAdapter)
    assert adapter.signer.public_key == PUBLIC
    assert adapter.settings.subject == "https://bousai.example.jp"
    assert adapter.settings.hosts.allows("fcm.googleapis.com") and adapter.settings.hosts.allows(
        "push.example.jp"
    )
    assert not adapter.settings.hosts.allows("evil.example")
    with pytest.raises(ConfigError, match="unknown options"):
        WebPushAdapter.from_settings("app_push", settings.model_copy(update={"options": {"speed": 1}}), env)
    bad = settings.model_copy(update={"credentials": {"vapid_private_key": SecretStr("AAAA")}})
    with pytest.raises(ConfigError, match="not a P-256"):
        WebPushAdapter.from_settings("app_push", bad, env)


async def test_every_subscriber_gets_the_message_encrypted_and_signed(
    fake: FakePushService, make: Make
) -> None:
    recipients = addresses(fake, "a", "b", "c")
    d = push(recipients)
    result = await make().send(d)
    assert (result.mode, result.accepted, result.gone) == ("live", 3, ())
    assert len(fake.delivered()) == 3, [p.reason for p in fake.received]
    for p in fake.delivered():
        msg = p.message
        assert msg is not None
        assert msg["title"] == "【穴水町】避難指示"
        assert msg["body"] == "【穴水町】川島地区に避難指示を発令しました。"
        assert msg["url"] == "https://bousai.anamizu.example.jp/alerts/anamizu/ev-1"
        assert msg["id"] == "ev-1" and msg["drill"] is False
        assert p.headers["urgency"] == "high", "Immediate → high"
        assert p.ttl == 15 * 60, "Immediate → a short TTL"
        assert p.headers["topic"] == push_payload.topic("anamizu", "manual|ev-1") == msg["tag"]
        assert p.headers["authorization"].startswith("vapid t=")


@pytest.mark.parametrize(
    ("kw", "urgency", "ttl"),
    [
        ({"status": Status.EXERCISE}, "low", 3600),
        ({"status": Status.TEST, "urgency": Urgency.IMMEDIATE}, "low", 3600),
        ({"urgency": Urgency.EXPECTED, "severity": Severity.MODERATE}, "normal", 6 * 3600),
        ({"urgency": Urgency.FUTURE, "severity": Severity.MINOR}, "normal", 24 * 3600),
        ({"urgency": Urgency.PAST, "severity": Severity.MODERATE}, "low", 3600),
        # A JMA warning (Severe, Expected) and a 震度 report (Past) must wake a phone that saves
        # battery: severity alone makes them urgent.
        ({"urgency": Urgency.EXPECTED, "severity": Severity.SEVERE}, "high", 6 * 3600),
        ({"urgency": Urgency.PAST, "severity": Severity.SEVERE}, "high", 3600),
        ({"urgency": Urgency.FUTURE, "severity": Severity.EXTREME}, "high", 24 * 3600),
        ({"status": Status.EXERCISE, "severity": Severity.EXTREME}, "low", 3600),
    ],
)
async def test_urgency_and_ttl_come_from_the_alert(
    fake: FakePushService, make: Make, kw: dict[str, Any], urgency: str, ttl: int
) -> None:
    (recipient,) = addresses(fake, "a")
    await make().send(push([recipient], alert("ev-1", **kw)))
    (p,) = fake.delivered()
    assert (p.headers["urgency"], p.ttl) == (urgency, ttl)
    if kw.get("status") in (Status.EXERCISE, Status.TEST):
        label = "訓練" if kw["status"] is Status.EXERCISE else "試験"
        assert p.message is not None
        assert p.message["title"].startswith(f"【{label}】") and p.message["body"].startswith(f"【{label}】")
        assert p.message["drill"] is True


async def test_an_alert_that_expires_soon_gets_a_shorter_ttl_and_a_cancel_a_long_one(
    fake: FakePushService, make: Make
) -> None:
    (recipient,) = addresses(fake, "a")
    soon = alert("ev-1", expires=now() + timedelta(minutes=5), sent=now().replace(microsecond=0))
    await make().send(push([recipient], soon))
    assert 290 <= fake.delivered()[-1].ttl <= 300
    cancel = follow_up(soon, "ev-1-c", MsgType.CANCEL)
    await make().send(push([recipient], cancel, body="取消"))
    last = fake.delivered()[-1]
    assert (last.headers["urgency"], last.ttl) == ("normal", 24 * 3600)
    assert last.headers["topic"] == fake.delivered()[0].headers["topic"], (
        "the cancel replaces the original at the push service"
    )


async def test_gone_subscriptions_are_reported_for_pruning(fake: FakePushService, make: Make) -> None:
    recipients = addresses(fake, "a", "b", "c")
    fake.gone.add("b")
    del fake.subscribers["c"]  # the push service has never heard of it: 404
    broken = '{"endpoint": "not even a url"}'
    off_curve = json.dumps(
        {**json.loads(recipients[0]), "keys": {"p256dh": b64e(b"\x04" + bytes(64)), "auth": b64e(bytes(16))}}
    )
    result = await make().send(push([*recipients, broken, off_curve]))
    assert result.accepted == 1
    assert set(result.gone) == {recipients[1], recipients[2], broken, off_curve}
    assert result.detail == "1 of 5 subscriptions delivered, 4 gone"


async def test_a_retry_reaches_only_those_not_yet_delivered(fake: FakePushService, make: Make) -> None:
    recipients = addresses(fake, "a", "b", "c")
    fake.fail_next("b", 503)
    fake.fail_next("c", 429, retry_after="7")
    adapter = make()
    d = push(recipients)
    with pytest.raises(TransientError) as err:
        await adapter.send(d)
    assert err.value.retry_after == 7.0
    assert [p.name for p in fake.delivered()] == ["a"]
    result = await adapter.send(d.model_copy(update={"attempt": 2}))
    assert result.accepted == 3
    assert sorted(p.name for p in fake.delivered()) == ["a", "b", "c"], "nobody twice"


async def test_refusals_are_permanent_only_when_nobody_got_it(fake: FakePushService, make: Make) -> None:
    recipients = addresses(fake, "a", "b")
    fake.fail_next("b", 403)
    result = await make().send(push(recipients))
    assert result.accepted == 1 and "1 refused" in (result.detail or "")
    others = addresses(fake, "c")
    fake.fail_next("c", 400)
    with pytest.raises(PermanentError, match="refused"):
        await make().send(push(others, alert("ev-2")))


async def test_a_key_the_subscription_was_not_made_with_is_refused_by_the_service(
    fake: FakePushService, make: Make
) -> None:
    other_private, _ = generate()
    with pytest.raises(PermanentError, match="HTTP 403"):
        await make(vapid_private_key=SecretStr(other_private)).send(push(addresses(fake, "a")))


async def test_a_push_service_the_settings_do_not_allow_is_never_called(
    fake: FakePushService, make: Make
) -> None:
    recipients = addresses(fake, "a")
    strict = make(hosts=HostPolicy())  # only the browsers' push services
    with pytest.raises(PermanentError, match="not allowed"):
        await strict.send(push(recipients))
    assert fake.received == []


async def test_a_long_message_is_cut_to_fit_the_push_limit(fake: FakePushService, make: Make) -> None:
    (recipient,) = addresses(fake, "a")
    long_body = "津波が来ます。直ちに高台へ避難してください。" * 400
    await make().send(push([recipient], body=long_body))
    (p,) = fake.delivered()
    assert p.message is not None
    assert p.message["body"].endswith("…")
    raw = json.dumps(p.message, ensure_ascii=False, separators=(",", ":")).encode()
    assert len(raw) <= push_payload.MAX_PLAINTEXT


def test_vapid_keys_round_trip_and_the_cli_makes_them() -> None:
    private, public = generate()
    assert public_key_b64(load_private_key(private)) == public
    from broadcaster.cli import main

    result = CliRunner().invoke(main, ["vapid", "generate"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(" = ", 1) for line in result.output.splitlines() if " = " in line)
    key = lines["vapid_private_key"].strip('"')
    assert public_key_b64(load_private_key(key)) in result.output


def test_payload_topic_is_a_valid_rfc8030_topic() -> None:
    import re

    for key in ("jma|津波警報・注意報・予報a|20240101161010", "x" * 500, ""):
        t = push_payload.topic("anamizu", key)
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", t)
    assert push_payload.topic("anamizu", "a") != push_payload.topic("wajima", "a")


async def test_apple_refuses_a_contact_it_cannot_reach_and_the_settings_never_make_one(
    make: Make, tmp_path: Path
) -> None:
    env = AdapterEnv("anamizu", "穴水町", tmp_path, tmp_path, "http://127.0.0.1:8080")
    settings = ChannelSettings(credentials={"vapid_private_key": SecretStr(PRIVATE)})
    # Once the default on a plain-http deployment: Apple answers 403 BadJwtToken to it.
    with pytest.raises(ConfigError, match=r"options\.subject is required"):
        WebPushAdapter.from_settings("app_push", settings, env)
    for subject in ("mailto:webmaster@localhost", "mailto:bousai@anamizu.local", "https://127.0.0.1"):
        with pytest.raises(ConfigError, match="no contact a push service can use"):
            WebPushAdapter.from_settings(
                "app_push", settings.model_copy(update={"options": {"subject": subject}}), env
            )
    async with FakePushService(vapid_public_key=PUBLIC, apple=True) as apple:
        (recipient,) = addresses(apple, "iphone")
        result = await make().send(push([recipient]))
        assert result.accepted == 1, [p.reason for p in apple.received]
        # A subject that slipped past the settings (made before this check) is named in the error.
        bad = make()
        bad.signer.subject = "mailto:webmaster@localhost"
        with pytest.raises(PermanentError, match=r"BadJwtToken.*options.subject"):
            await bad.send(push([recipient], alert("ev-2")))
        assert apple.received[-1].status == 403


async def test_a_safety_check_tells_the_app_to_offer_the_answer(fake: FakePushService, make: Make) -> None:
    from tests.rules_helpers import manual

    (recipient,) = addresses(fake, "a")
    check = manual(kind="evacuation", event="避難指示", headline="安否確認", parameters={"safety_check": "yes"})
    await make().send(push([recipient], check))
    await make().send(push([recipient], alert("ev-2")))
    asked, plain = fake.delivered()
    assert asked.message is not None and asked.message["safety"] is True and asked.message["id"] == check.identifier
    assert plain.message is not None and plain.message["safety"] is False


async def test_the_web_reaches_sign_ups_through_the_registered_channel(fake: FakePushService) -> None:
    # The web's pages find the channel by its entry point (broadcaster.channels.DeviceSubscriptions),
    # never by importing the adapter: the same checks, the same key.
    from broadcaster import registry
    from broadcaster.channels import DeviceSubscriptions

    channel: DeviceSubscriptions = registry.load(registry.CHANNELS, "app_push")
    sub = fake.subscribe("resident")
    options = {"allowed_hosts": ["127.0.0.1"], "allow_http": True}
    assert channel.subscription_address(sub, options) == parse_subscription(sub, POLICY).canonical()
    with pytest.raises(ValueError, match="https"):
        channel.subscription_address(sub, {})  # plain http only for a loopback service allowed by name
    with pytest.raises(ValueError, match="p256dh and auth"):
        channel.subscription_address({"endpoint": "https://fcm.googleapis.com/x"}, {})
    assert channel.application_server_key(PRIVATE) == public_key_b64(load_private_key(PRIVATE))
    with pytest.raises(ConfigError):
        channel.application_server_key("not a key")
