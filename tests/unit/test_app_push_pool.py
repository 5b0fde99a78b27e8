"""Web Push encryption in worker processes (adapters/outbound/app_push/pool.py).

The fake push service holds each subscriber's private key and decrypts every message, so a body
the pool got wrong (another subscriber's, a reused key pair, a chunk out of order) is refused.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.outbound.app_push import HostPolicy, WebPushAdapter, WebPushSettings, parse_subscription
from adapters.outbound.app_push import pool as encrypt_pool
from adapters.outbound.app_push.subscription import Subscription
from adapters.outbound.app_push.vapid import generate
from broadcaster.channels import AdapterEnv
from broadcaster.errors import ConfigError, TransientError
from broadcaster.settings import ChannelSettings
from tests.fakes.deliveries import delivery, text
from tests.fakes.site import alert
from tests.fakes.webpush import FakePushService

PRIVATE, PUBLIC = generate()
POLICY = HostPolicy(hosts=("127.0.0.1",), allow_http=True)


@pytest.fixture
async def fake() -> AsyncIterator[FakePushService]:
    async with FakePushService(vapid_public_key=PUBLIC) as service:
        yield service


@pytest.fixture(scope="module")
def two() -> encrypt_pool.EncryptPool:
    return encrypt_pool.shared(2)


def test_the_option_takes_a_count_or_auto(tmp_path: Path) -> None:
    env = AdapterEnv("anamizu", "穴水町", tmp_path, tmp_path, "https://bousai.example.jp")
    settings = ChannelSettings(credentials={"vapid_private_key": SecretStr(PRIVATE)})
    auto = WebPushAdapter.from_settings(
        "app_push", settings.model_copy(update={"options": {"encrypt_processes": "auto"}}), env
    )
    assert auto.settings.encrypt_processes == len(os.sched_getaffinity(0))
    assert auto.pool is encrypt_pool.shared(auto.settings.encrypt_processes), "one pool per process"
    plain = WebPushAdapter.from_settings("app_push", settings, env)
    assert plain.pool is None, "encryption stays in the event loop unless asked"
    with pytest.raises(ConfigError, match="encrypt_processes"):
        WebPushAdapter.from_settings(
            "app_push", settings.model_copy(update={"options": {"encrypt_processes": -1}}), env
        )


async def test_a_batch_encrypted_by_the_pool_reaches_everyone_and_a_retry_only_the_rest(
    fake: FakePushService, two: encrypt_pool.EncryptPool
) -> None:
    names = [f"s{i:03d}" for i in range(encrypt_pool.MIN_BATCH * 2)]
    recipients = [parse_subscription(fake.subscribe(n), POLICY).canonical() for n in names]
    # A stored address whose key is not a P-256 point: the worker cannot encrypt for it.
    broken = Subscription(f"{fake.base}/push/broken", "AAAA", "AAAAAAAAAAAAAAAAAAAAAA").canonical()
    fake.fail_next("s005", 503)
    adapter = WebPushAdapter(
        WebPushSettings(
            vapid_private_key=SecretStr(PRIVATE),
            subject="mailto:bousai@town.anamizu.example.jp",
            hosts=POLICY,
            timeout=10.0,
            encrypt_processes=2,
        )
    )
    assert adapter.pool is two
    await two.warm()
    d = delivery(
        "app_push",
        text("【穴水町】川島地区に避難指示を発令しました。", title="【穴水町】避難指示"),
        alert=alert("ev-pool"),
        recipients=[*recipients, broken],
        audience="district:kawashima",
    )
    cpu_before = two.worker_cpu_s
    try:
        with pytest.raises(TransientError, match="to retry"):
            await adapter.send(d)
        assert two.worker_cpu_s > cpu_before, "the workers did the encryption"
        result = await adapter.send(d.model_copy(update={"attempt": 2}))
    finally:
        await adapter.close()
    assert result.accepted == len(names) and result.gone == (broken,)
    delivered = sorted(p.name for p in fake.delivered())
    assert delivered == sorted(names), "each once, each decrypted with its own key"
    assert all(p.message is not None and p.message["id"] == "ev-pool" for p in fake.delivered())
