"""The lalert_out channel adapter against the fake L-Alert endpoint on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr, ValidationError

from adapters.ingest.lalert import parse_bytes
from adapters.outbound.lalert_out import LAlertOutAdapter, LAlertOutSettings
from adapters.outbound.lalert_out.adapter import acknowledged, retry_after
from adapters.outbound.lalert_out.document import document_id
from broadcaster.channels import AdapterEnv, ChannelAdapter
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.model import LEVEL, Kind, MsgType, ResponseType
from broadcaster.settings import ChannelSettings
from tests.canaries import canary
from tests.fakes.lalert import FakeLAlert, anamizu_publisher, delivery_for, town_alert

TOKEN = canary("lalert-token")
Make = Callable[..., LAlertOutAdapter]


@pytest.fixture
async def fake() -> AsyncIterator[FakeLAlert]:
    async with FakeLAlert(token=TOKEN) as server:
        yield server


@pytest.fixture
async def make(fake: FakeLAlert) -> AsyncIterator[Make]:
    made: list[LAlertOutAdapter] = []

    def factory(**overrides: Any) -> LAlertOutAdapter:
        fields: dict[str, Any] = {
            "endpoint": fake.url,
            "timeout": 2.0,
            "token": SecretStr(TOKEN),
            "publisher": anamizu_publisher(),
        }
        fields.update(overrides)
        adapter = LAlertOutAdapter(LAlertOutSettings(**fields))
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        await adapter.close()


def test_adapter_satisfies_the_channel_protocol() -> None:
    settings = LAlertOutSettings(endpoint="http://127.0.0.1:9/publish", publisher=anamizu_publisher())
    adapter = LAlertOutAdapter(settings)
    assert isinstance(adapter, ChannelAdapter)
    assert LAlertOutAdapter.name == "lalert_out"
    assert LAlertOutAdapter.max_text_length is None
    assert LAlertOutAdapter.max_recipients_per_request is None


async def test_publishes_an_evacuation_order(fake: FakeLAlert, make: Make) -> None:
    alert = town_alert()
    delivery = delivery_for(alert, text="【警戒レベル4】川島地区、大町地区に避難指示")
    result = await make().send(delivery)

    doc = document_id(alert, anamizu_publisher())
    assert result.provider_ref == f"{doc}/1"
    assert (result.mode, result.accepted) == ("live", 1)
    (request,) = fake.requests
    assert request.status == 200
    assert request.idempotency_key == delivery.idempotency_key
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert request.headers["SOAPAction"] == '"publish"'
    assert b"<soap:Envelope" in request.body
    (published,) = fake.published
    assert published.primary.param(LEVEL) == "4"
    assert published.primary.param("lalert:documentId") == doc
    assert [a.area_desc for a in published.primary.area] == ["川島地区", "大町地区"]
    assert (published.primary.description or "").startswith("【警戒レベル4】川島地区、大町地区に避難指示")


async def test_basic_auth_and_bare_edxl() -> None:
    async with FakeLAlert(basic=("anamizu", "pa55")) as server:
        adapter = LAlertOutAdapter(
            LAlertOutSettings(
                endpoint=server.url,
                username="anamizu",
                password=SecretStr("pa55"),
                publisher=anamizu_publisher(),
                envelope="edxl",
            )
        )
        try:
            await adapter.send(delivery_for(town_alert()))
        finally:
            await adapter.close()
    (request,) = server.requests
    assert request.status == 200
    assert request.headers["Authorization"].startswith("Basic ")
    assert request.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert b"EDXLDistribution" in request.body.splitlines()[1]
    assert parse_bytes(request.body)[0].primary.param(LEVEL) == "4"


async def test_repeated_delivery_is_published_once(fake: FakeLAlert, make: Make) -> None:
    adapter = make()
    delivery = delivery_for(town_alert())
    first = await adapter.send(delivery)
    second = await adapter.send(delivery)
    assert first.provider_ref == second.provider_ref
    assert len(fake.requests) == 2
    assert fake.requests[1].reason == "replayed"
    assert len(fake.published) == 1


async def test_order_then_lift_are_two_revisions(fake: FakeLAlert, make: Make) -> None:
    adapter = make()
    order = town_alert()
    lift = town_alert(
        identifier="anamizu-0002",
        msg_type=MsgType.UPDATE,
        references=(order.reference_key,),
        sent=order.sent + timedelta(hours=3),
        response=(ResponseType.ALL_CLEAR,),
    )
    r1 = await adapter.send(delivery_for(order))
    r2 = await adapter.send(delivery_for(lift))
    assert (r1.provider_ref or "").endswith("/1")
    assert (r2.provider_ref or "").endswith("/2")
    assert r2.detail == "Update revision 2"
    assert [a.msg_type for a in fake.published] == [MsgType.ALERT, MsgType.UPDATE]
    assert fake.published[1].referenced_identifiers() == (fake.published[0].identifier,)
    assert fake.published[1].primary.param("lalert:issueOrLift") == "解除"


async def test_429_is_transient_with_retry_after(fake: FakeLAlert, make: Make) -> None:
    adapter = make()
    delivery = delivery_for(town_alert())
    fake.fail_next(429, retry_after="7")
    with pytest.raises(TransientError) as e:
        await adapter.send(delivery)
    assert e.value.retry_after == 7.0
    assert e.value.retriable
    # The worker's retry of the same delivery goes through, and is published once.
    assert (await adapter.send(delivery)).provider_ref is not None
    assert len(fake.published) == 1
    assert fake.requests[0].idempotency_key == fake.requests[1].idempotency_key


async def test_429_with_http_date(fake: FakeLAlert, make: Make) -> None:
    fake.fail_next(429, retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True))
    with pytest.raises(TransientError) as e:
        await make().send(delivery_for(town_alert()))
    assert e.value.retry_after is not None
    assert 60 < e.value.retry_after <= 120


@pytest.mark.parametrize(("status", "header"), [(500, None), (502, None), (503, "30")])
async def test_server_errors_are_transient(
    fake: FakeLAlert, make: Make, status: int, header: str | None
) -> None:
    fake.fail_next(status, retry_after=header)
    with pytest.raises(TransientError) as e:
        await make().send(delivery_for(town_alert()))
    assert e.value.retry_after == (float(header) if header else None)
    assert fake.published == []


@pytest.mark.parametrize("status", [400, 403, 404, 413])
async def test_client_errors_are_permanent(fake: FakeLAlert, make: Make, status: int) -> None:
    fake.fail_next(status)
    with pytest.raises(PermanentError) as e:
        await make().send(delivery_for(town_alert()))
    assert not e.value.retriable
    assert str(status) in str(e.value)


async def test_wrong_token_is_permanent(fake: FakeLAlert, make: Make) -> None:
    with pytest.raises(PermanentError, match="401"):
        await make(token=SecretStr("wrong")).send(delivery_for(town_alert()))
    assert fake.requests[0].reason == "unauthorized"


async def test_revision_that_does_not_advance_is_permanent(fake: FakeLAlert, make: Make) -> None:
    adapter = make()
    await adapter.send(delivery_for(town_alert()))
    # Another audience slice, another key: the same revision again is a conflict at the commons.
    with pytest.raises(PermanentError, match="409"):
        await adapter.send(delivery_for(town_alert(), audience="other"))


async def test_hang_is_a_transient_timeout(fake: FakeLAlert, make: Make) -> None:
    fake.hang_next()
    started = time.monotonic()
    with pytest.raises(TransientError, match="did not answer"):
        await make(timeout=0.3).send(delivery_for(town_alert()))
    assert time.monotonic() - started < 5


async def test_connection_refused_is_transient(make: Make) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientError, match="unreachable"):
        await make(endpoint=f"http://127.0.0.1:{port}/publish").send(delivery_for(town_alert()))


async def test_alert_from_lalert_is_not_sent_back(fake: FakeLAlert, make: Make) -> None:
    with pytest.raises(PermanentError, match="came from L-Alert"):
        await make().send(delivery_for(town_alert(origin="lalert")))
    assert fake.requests == []


async def test_unsupported_kind_is_refused_before_sending(fake: FakeLAlert, make: Make) -> None:
    with pytest.raises(PermanentError):
        await make().send(delivery_for(town_alert(Kind.EARTHQUAKE)))
    assert fake.requests == []


async def test_uses_a_session_it_is_given_and_leaves_it_open(fake: FakeLAlert) -> None:
    async with aiohttp.ClientSession() as session:
        settings = LAlertOutSettings(endpoint=fake.url, token=SecretStr(TOKEN), publisher=anamizu_publisher())
        adapter = LAlertOutAdapter(settings, session=session)
        await adapter.send(delivery_for(town_alert()))
        await adapter.close()
        assert not session.closed


def test_settings_refuse_two_kinds_of_credentials() -> None:
    with pytest.raises(ValidationError, match="either a bearer token or basic auth"):
        LAlertOutSettings(
            endpoint="https://lalert.example/publish",
            token=SecretStr("t"),
            username="u",
            password=SecretStr("p"),
            publisher=anamizu_publisher(),
        )
    with pytest.raises(ValidationError, match="both username and password"):
        LAlertOutSettings(
            endpoint="https://lalert.example/publish", username="u", publisher=anamizu_publisher()
        )


def test_settings_keep_secrets_out_of_repr() -> None:
    settings = LAlertOutSettings(
        endpoint="https://lalert.example/publish", token=SecretStr(TOKEN), publisher=anamizu_publisher()
    )
    assert TOKEN not in repr(settings)
    assert TOKEN not in settings.model_dump_json()
    with pytest.raises(ValidationError):
        settings.timeout = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), ("0", 0.0), (" 12 ", 12.0), (None, None), ("soon", None), ("-3", None)],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert retry_after(value) == expected


def test_retry_after_date_in_the_past_is_zero() -> None:
    now = datetime(2025, 7, 10, tzinfo=UTC)
    assert retry_after(format_datetime(now - timedelta(minutes=5), usegmt=True), now=now) == 0.0
    assert retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0


def test_acknowledgement_forms() -> None:
    assert acknowledged(b'{"documentID": "d-1", "documentRevision": 3}', "application/json") == ("d-1", "3")
    assert acknowledged(b"", "text/xml") == (None, None)
    assert acknowledged(b"<ok/>", "text/xml") == (None, None)
    assert acknowledged(b"not xml", "text/plain") == (None, None)
    assert acknowledged(b"[1, 2]", "application/json") == (None, None)


ENV = AdapterEnv(
    tenant="anamizu",
    tenant_name="穴水町",
    outbox_dir=Path("var/outbox"),
    var_dir=Path("var"),
    public_url="http://127.0.0.1:8080",
)
PUBLISHER_OPTIONS = {"organization_code": "174611", "office_name": "総務課", "domain": "town.anamizu.lg.jp"}


async def test_from_channel_settings(fake: FakeLAlert) -> None:
    section = ChannelSettings(
        credentials={"token": SecretStr(TOKEN)},
        options={"endpoint": fake.url, "publisher": PUBLISHER_OPTIONS},
        timeout_s=5.0,
    )
    adapter = LAlertOutAdapter.from_settings("lalert_out", section, ENV)
    try:
        await adapter.send(delivery_for(town_alert()))
    finally:
        await adapter.close()
    assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    # The organization name defaults to the tenant's.
    assert fake.published[0].primary.sender_name == "穴水町"


async def test_from_channel_settings_with_basic_auth() -> None:
    async with FakeLAlert(basic=("anamizu", TOKEN)) as server:
        section = ChannelSettings(
            credentials={"token": SecretStr(TOKEN)},
            options={
                "endpoint": server.url,
                "publisher": PUBLISHER_OPTIONS,
                "auth": "basic",
                "username": "anamizu",
            },
        )
        adapter = LAlertOutAdapter.from_settings("lalert_out", section, ENV)
        try:
            await adapter.send(delivery_for(town_alert()))
        finally:
            await adapter.close()
    assert server.requests[0].status == 200


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"publisher": PUBLISHER_OPTIONS}, "endpoint"),
        ({"endpoint": "https://lalert.example/publish"}, "publisher"),
        ({"endpoint": "https://lalert.example/publish", "publisher": {"domain": "x"}}, "organization_code"),
        (
            {"endpoint": "https://lalert.example/publish", "publisher": PUBLISHER_OPTIONS, "colour": "red"},
            "colour",
        ),
        (
            {"endpoint": "https://lalert.example/publish", "publisher": PUBLISHER_OPTIONS, "auth": "magic"},
            "auth",
        ),
        ({"endpoint": "not a url", "publisher": PUBLISHER_OPTIONS}, "endpoint"),
    ],
)
def test_misconfiguration_fails_at_start_up(options: dict[str, Any], match: str) -> None:
    section = ChannelSettings(credentials={"token": SecretStr(TOKEN)}, options=options)
    with pytest.raises(ConfigError, match=match):
        LAlertOutAdapter.from_settings("lalert_out", section, ENV)


def test_without_its_secret_the_channel_stays_in_outbox_mode() -> None:
    # The pipeline's resolver runs a channel live only when every required credential is set.
    assert LAlertOutAdapter.required_credentials == ("token",)
    assert LAlertOutAdapter.addressing == "broadcast"
