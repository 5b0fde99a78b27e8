"""The SMS channel through a fake Twilio Messages API: parts sent per number, receipts read back
into per-resident outcomes, documented refusals and failures classified."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.outbound.sms import SmsAdapter
from adapters.outbound.sms.twilio import e164
from broadcaster.channels import AdapterEnv
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.settings import ChannelSettings
from tests.fakes.deliveries import delivery, text
from tests.fakes.twilio import FakeTwilio

PARTS = ("(1/2)【穴水町】避難指示 川島地区に避難指示（警戒レベル4）を発令しました。", "(2/2)直ちに避難してください。")


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        yield fake


def _adapter(fake: FakeTwilio, tmp_path: Path, **options: object) -> SmsAdapter:
    settings = ChannelSettings(
        credentials={"account_sid": SecretStr(fake.account_sid), "auth_token": SecretStr(fake.auth_token)},
        options={"base_url": fake.url, "sender": "+815012345678", "receipt_wait_s": 1.0, "receipt_every_s": 0.01, **options},
    )
    return SmsAdapter.from_settings("sms", settings, AdapterEnv("anamizu", "穴水町", tmp_path, tmp_path, "http://x"))


def test_japanese_numbers_become_e164() -> None:
    assert e164("0768-52-0001") == "+81768520001"
    assert e164("090 1234 5678") == "+819012345678"
    assert e164("+819012345678") == "+819012345678"


async def test_each_number_gets_each_part_and_receipts_are_read_back(twilio: FakeTwilio, tmp_path: Path) -> None:
    twilio.landlines = {"+81768520001"}
    adapter = _adapter(twilio, tmp_path)
    try:
        result = await adapter.send(
            delivery("sms", text("\n".join(PARTS), parts=PARTS), recipients=["090-1234-5678", "0768-52-0001"])
        )
    finally:
        await adapter.close()
    mobile = twilio.to("+819012345678")
    assert [m.body for m in mobile] == list(PARTS)
    assert all(m.segments == 1 for m in mobile)  # each part fits one UCS-2 segment
    assert mobile[0].sender == "+815012345678"
    by = {o.recipient: o for o in result.outcomes}
    assert by["090-1234-5678"].outcome == "delivered" and by["090-1234-5678"].reached
    assert by["0768-52-0001"].outcome == "not_mobile" and not by["0768-52-0001"].reached
    assert "30006" in by["0768-52-0001"].detail
    assert "1 delivered, 1 not reached" in (result.detail or "")


async def test_an_opted_out_number_is_refused_alone(twilio: FakeTwilio, tmp_path: Path) -> None:
    twilio.opted_out = {"+819011112222"}
    adapter = _adapter(twilio, tmp_path)
    try:
        result = await adapter.send(delivery("sms", text(PARTS[1]), recipients=["09011112222", "09033334444"]))
    finally:
        await adapter.close()
    by = {o.recipient: o.outcome for o in result.outcomes}
    assert by == {"09011112222": "invalid", "09033334444": "delivered"}


async def test_rate_limit_retries_only_the_numbers_not_yet_sent(twilio: FakeTwilio, tmp_path: Path) -> None:
    adapter = _adapter(twilio, tmp_path, concurrency=1)
    d = delivery("sms", text(PARTS[1]), recipients=["09011110001", "09011110002"])
    twilio.fail_next = [429]
    try:
        with pytest.raises(TransientError) as err:
            await adapter.send(d)
        assert err.value.retry_after == 1.0
        await adapter.send(d.model_copy(update={"attempt": 2}))
    finally:
        await adapter.close()
    assert len(twilio.to("+819011110001")) == 1 and len(twilio.to("+819011110002")) == 1


async def test_server_error_is_transient_and_wrong_credentials_permanent(twilio: FakeTwilio, tmp_path: Path) -> None:
    twilio.fail_next = [503]
    adapter = _adapter(twilio, tmp_path)
    try:
        with pytest.raises(TransientError, match="503"):
            await adapter.send(delivery("sms", text(PARTS[1]), recipients=["09011110003"]))
    finally:
        await adapter.close()
    twilio.auth_token = "rotated"
    adapter = _adapter(twilio, tmp_path)
    adapter.api = type(adapter.api)(twilio.url, twilio.account_sid, "stale-token")
    try:
        with pytest.raises(PermanentError, match="20003"):
            await adapter.send(delivery("sms", text(PARTS[1]), recipients=["09011110004"]))
    finally:
        await adapter.close()


def test_a_sender_is_required(twilio: FakeTwilio, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sender"):
        _adapter(twilio, tmp_path, sender="")
