"""The channel adapters' warm-up (broadcaster.channels.Warming): after `warm`, the first send opens
no connection of its own. Each fake sits behind a relay on loopback that counts the connections
it accepts (tests/fakes/tcpcount.py); the adapters are the real ones with their real clients."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from adapters.outbound.line import LineAdapter, LineSettings
from adapters.outbound.sns import PostLog, XAdapter, XSettings
from adapters.outbound.sns.bluesky import BlueskyAdapter, BlueskySettings
from adapters.outbound.sns.fediverse import MastodonAdapter, MastodonSettings
from adapters.outbound.webhook import WebhookAdapter
from broadcaster.channels import AdapterEnv, Warming
from broadcaster.settings import ChannelSettings
from tests.canaries import canary
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.deliveries import delivery, text, user_ids
from tests.fakes.line import FakeLine
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.tcpcount import CountingRelay
from tests.fakes.webhook import FakeReceivers
from tests.fakes.x import FakeX
from tests.helpers import eventually

TOKEN = canary("line-token")


async def _opened(relay: CountingRelay, n: int = 1) -> None:
    # The relay counts a connection when its accept runs, a moment after the client's connect.
    await eventually(lambda: relay.accepted >= n, timeout=10.0)


async def test_line_after_warm_up_the_first_send_opens_no_connection() -> None:
    async with FakeLine(token=TOKEN) as fake, CountingRelay(fake.url) as relay:
        adapter = LineAdapter(
            LineSettings(token=SecretStr(TOKEN), base_url=relay.url, timeout=5.0),
            tenant="anamizu",
            public_url="https://bousai.example",
        )
        try:
            assert isinstance(adapter, Warming)
            await adapter.warm()
            await _opened(relay)
            assert not fake.requests, "a warm-up sends nothing"
            await adapter.send(delivery("line", recipients=user_ids(2), audience="district:kawashima"))
            assert len(fake.delivered) == 1
            assert relay.accepted == 1, "the send used the connection the warm-up opened"
            await adapter.warm()  # again while idle: the open connection is kept, none added
            await adapter.send(delivery("line", recipients=user_ids(2, 2), batch=1, audience="district:kawashima"))
            assert relay.accepted == 1
        finally:
            await adapter.close()


async def test_x_over_tls_after_warm_up_opens_no_connection(tmp_path: Path) -> None:
    async with FakeX(tmp_path) as fake, CountingRelay(fake.url) as relay:
        assert fake.ca is not None
        fields: dict[str, Any] = {k: SecretStr(v) for k, v in fake.credentials.as_dict().items()}
        adapter = XAdapter(
            XSettings(**fields, connect_to=relay.url, ca_file=fake.ca.ca_file, timeout=5.0),
            PostLog(tmp_path / "x.jsonl"),
        )
        try:
            await adapter.warm()
            await _opened(relay)
            await adapter.send(delivery("x", text("避難指示")))
            assert relay.accepted == 1, "TCP and TLS were done by the warm-up"
        finally:
            await adapter.close()


async def test_mastodon_after_warm_up_opens_no_connection(tmp_path: Path) -> None:
    async with FakeMastodon() as fake, CountingRelay(fake.url) as relay:
        adapter = MastodonAdapter(
            MastodonSettings(access_token=SecretStr(fake.token), base_url=relay.url, timeout=5.0),
            PostLog(tmp_path / "m.jsonl"),
        )
        try:
            await adapter.warm()
            await _opened(relay)
            await adapter.send(delivery("mastodon", text("避難指示")))
            assert relay.accepted == 1
        finally:
            await adapter.close()


async def test_bluesky_warm_up_logs_in_once_before_the_first_post(tmp_path: Path) -> None:
    async with FakeBluesky() as fake, CountingRelay(fake.url) as relay:
        adapter = BlueskyAdapter(
            BlueskySettings(handle=fake.handle, app_password=SecretStr(fake.password), base_url=relay.url, timeout=5.0),
            PostLog(tmp_path / "b.jsonl"),
        )
        try:
            await adapter.warm()
            assert fake.logins == 1
            # Quiet for longer than httpx keeps an idle connection by default (5 s).
            await asyncio.sleep(6.0)
            await adapter.send(delivery("bluesky", text("避難指示")))
            assert fake.logins == 1, "the post used the warm-up's session"
            assert relay.accepted == 1
        finally:
            await adapter.close()


async def test_webhook_warms_every_subscriber_and_a_dead_one_fails_only_the_warm_up(tmp_path: Path) -> None:
    secrets = {"cms": "cms-secret-0123456789abcdef"}
    async with FakeReceivers(dict(secrets)) as fake, CountingRelay(fake.base) as relay:
        # A port nobody listens on: the second subscriber is down.
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        dead_port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        env = AdapterEnv("anamizu", "穴水町", tmp_path, tmp_path, "https://bousai.example.jp")
        settings = ChannelSettings(
            credentials={"secret": SecretStr(secrets["cms"])},
            options={
                "subscribers": [
                    {"name": "cms", "url": f"{relay.url}/hook/cms"},
                    {"name": "gone", "url": f"http://127.0.0.1:{dead_port}/hook/gone"},
                ]
            },
        )
        adapter = WebhookAdapter.from_settings("webhook", settings, env)
        try:
            failed: BaseException | None = None
            try:
                await adapter.warm()
            except Exception as e:  # the worker logs this and goes on
                failed = e
            assert failed is not None and "gone" in str(failed)
            await _opened(relay)
            assert relay.accepted == 1, "the live subscriber was warmed all the same"
        finally:
            await adapter.close()


async def test_web_push_after_a_restart_warms_the_push_services_its_subscribers_used(tmp_path: Path) -> None:
    from adapters.outbound.app_push import HostPolicy, WebPushAdapter, WebPushSettings, parse_subscription
    from adapters.outbound.app_push.vapid import generate
    from tests.fakes.webpush import FakePushService

    private, public = generate()
    policy = HostPolicy(hosts=("127.0.0.1",), allow_http=True)
    origins = tmp_path / "app_push" / "anamizu.origins.json"

    def adapter() -> WebPushAdapter:
        settings = WebPushSettings(
            vapid_private_key=SecretStr(private),
            subject="mailto:bousai@town.anamizu.example.jp",
            hosts=policy,
            public_url="https://bousai.anamizu.example.jp",
            timeout=5.0,
        )
        return WebPushAdapter(settings, origins_file=origins)

    async with FakePushService(vapid_public_key=public) as fake, CountingRelay(fake.base) as relay:
        subs = []
        for name in ("a", "b", "c", "d", "e"):
            sub = fake.subscribe(name)
            sub["endpoint"] = sub["endpoint"].replace(fake.base, relay.url)
            subs.append(parse_subscription(sub, policy).canonical())
        first = adapter()
        try:
            await first.send(delivery("app_push", text("避難指示", title="避難指示"), recipients=subs))
        finally:
            await first.close()
        opened = relay.accepted
        assert opened >= 1 and origins.exists()

        again = adapter()  # a restart: a new adapter, the same var folder
        try:
            await again.warm()
            await _opened(relay, opened + 5)
            assert relay.accepted == opened + 5, "one connection for each message one send has in flight"
            await again.send(
                delivery("app_push", text("避難指示 解除", title="解除"), recipients=subs, batch=1)
            )
            assert len(fake.delivered()) == 10
            assert relay.accepted == opened + 5, "the send found them open"
        finally:
            await again.close()


async def test_website_warm_up_writes_nothing_and_the_first_publish_follows(tmp_path: Path) -> None:
    from tests.fakes.site import SiteFixture, alert, site_delivery

    site = SiteFixture(tmp_path / "site")
    try:
        adapter = site.adapter()
        assert isinstance(adapter, Warming)
        await adapter.warm()
        assert not (tmp_path / "site").exists() or not any((tmp_path / "site").iterdir()), "a warm-up publishes nothing"
        await adapter.send(site_delivery(alert("anamizu-1", event_key="ev-1")))
        assert "anamizu-1" in site.current_ids()
        await adapter.warm()  # with a site there: reads its state, changes nothing
        assert site.current_ids() == ["anamizu-1"]
    finally:
        await site.close()
