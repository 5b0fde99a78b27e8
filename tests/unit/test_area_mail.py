"""緊急速報メール: the carriers' limits, the kinds a town may send, drills kept off the live system,
the hand-off to an officer, and the json link against a fake gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from adapters.outbound.area_mail import CARRIERS, AreaMailAdapter
from adapters.outbound.area_mail.carriers import carrier_of
from adapters.outbound.area_mail.links import LINKS_GROUP, JsonLink
from adapters.outbound.area_mail.text import fit
from adapters.outbound.outbox import read_outbox
from broadcaster import registry
from broadcaster.channels import AdapterEnv, Delivery, RenderedText
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.model import (
    JST,
    KIND,
    Alert,
    Category,
    Certainty,
    Dispatch,
    Explanation,
    Info,
    MsgType,
    NamedValue,
    Severity,
    Status,
    Urgency,
)
from broadcaster.settings import ChannelSettings
from tests.fakes.carrier import FakeCarrierGateway

TOKEN = "carrier-gateway-token-" + "x" * 16
ORDER_TITLE = "【穴水町】避難指示"
ORDER_BODY = "穴水町から避難指示（警戒レベル4）。川島地区の方は直ちに避難所へ避難してください。"


def env(tmp: Path) -> AdapterEnv:
    return AdapterEnv(
        tenant="anamizu",
        tenant_name="穴水町",
        outbox_dir=tmp / "outbox",
        var_dir=tmp,
        public_url="http://127.0.0.1:8080",
        municipality_codes=("174611",),
    )


def delivery(
    channel: str = "area_mail_docomo",
    *,
    kind: str = "evacuation",
    status: Status = Status.ACTUAL,
    title: str = ORDER_TITLE,
    body: str = ORDER_BODY,
    key_seed: str = "a1",
) -> Delivery:
    sent = datetime(2025, 7, 1, 2, 40, tzinfo=JST)
    alert = Alert(
        identifier=f"m-anamizu-{key_seed}",
        sender="anamizu",
        sent=sent,
        status=status,
        msg_type=MsgType.ALERT,
        event_key=f"m|{key_seed}",
        origin="manual",
        tenant="anamizu",
        info=(
            Info(
                category=(Category.SAFETY,),
                event="避難指示",
                urgency=Urgency.IMMEDIATE,
                severity=Severity.SEVERE,
                certainty=Certainty.LIKELY,
                event_code=(NamedValue(value_name=KIND, value=kind),),
                headline="避難指示",
            ),
        ),
    )
    dispatch = Dispatch(
        tenant="anamizu",
        alert_id=alert.identifier,
        event_key=alert.event_key,
        channel=channel,
        audience="public",
        batch=0,
        batch_count=1,
        template="auto",
        explanation=Explanation(rule="test"),
        created=sent,
        deadline=sent,
    )
    return Delivery(dispatch=dispatch, alert=alert, texts=(RenderedText(language="ja", kind=kind, title=title, body=body),))


def adapter(tmp: Path, channel: str = "area_mail_docomo", **options: Any) -> AreaMailAdapter:
    creds = {"token": SecretStr(TOKEN)} if options.get("link") else {}
    return AreaMailAdapter.from_settings(channel, ChannelSettings(options=options, credentials=creds), env(tmp))


# -- the text -----------------------------------------------------------------------------------


def test_half_width_kana_and_machine_dependent_characters_are_replaced_and_said() -> None:
    f = fit("ｶﾞｽ漏れ①", "㈱前の道路が冠水しています🌊。", title_max=15, body_max=200)
    assert f.title == "ガス漏れ1"
    assert f.body == "(株)前の道路が冠水しています。"
    assert any(n.startswith("normalised") for n in f.notes)
    assert any(n.startswith("dropped") and "🌊" in n for n in f.notes)


def test_a_long_title_and_text_are_cut_to_the_carriers_limits_and_the_drill_label_stays() -> None:
    f = fit("【訓練】【穴水町】避難指示（警戒レベル４）発令", "あ" * 250, title_max=15, body_max=200, label="【訓練】")
    assert len(f.title) == 15 and f.title.endswith("…")
    assert len(f.body) == 200 and f.body.startswith("【訓練】") and f.body.endswith("…")
    assert {n.split(":")[0] for n in f.notes} >= {"cut"}


@given(st.text(max_size=60), st.text(max_size=400))
def test_whatever_comes_in_fits_and_every_character_can_be_shown(title: str, body: str) -> None:
    f = fit(title, body, title_max=15, body_max=200)
    assert len(f.title) <= 15 and len(f.body) <= 200
    (f.title + f.body).replace("\n", "").encode("shift_jis")


# -- the adapter --------------------------------------------------------------------------------


def test_each_carrier_has_its_channel_and_an_unknown_one_fails_at_start_up(tmp_path: Path) -> None:
    assert {carrier_of(f"area_mail_{k}").key for k in CARRIERS} == set(CARRIERS)
    with pytest.raises(ConfigError, match="no carrier"):
        adapter(tmp_path, "area_mail_nokia")
    assert adapter(tmp_path, "town_area_mail", carrier="kddi").carrier.key == "kddi"
    bad_env = AdapterEnv("x", "X町", tmp_path, tmp_path, "http://127.0.0.1")
    with pytest.raises(ConfigError, match="municipality"):
        AreaMailAdapter.from_settings("area_mail_docomo", ChannelSettings(), bad_env)


async def test_hand_off_gives_the_officer_the_fitted_title_and_text_for_the_carriers_console(tmp_path: Path) -> None:
    result = await adapter(tmp_path, "area_mail_softbank").send(delivery("area_mail_softbank"))
    assert result.mode == "handoff"
    assert result.handoff is not None
    assert result.handoff.title == ORDER_TITLE
    assert result.handoff.body == ORDER_BODY
    assert result.handoff.area == "穴水町（174611）"
    assert "ソフトバンク" in result.handoff.target
    assert result.handoff.where == CARRIERS["softbank"].console


@pytest.mark.parametrize("kind", ["eew", "tsunami", "missile", "notice", "weather_warning"])
async def test_kinds_a_town_may_not_send_by_area_mail_are_refused(tmp_path: Path, kind: str) -> None:
    with pytest.raises(PermanentError, match="only evacuation, shelter and damage"):
        await adapter(tmp_path).send(delivery(kind=kind))


@pytest.mark.parametrize("status", [Status.EXERCISE, Status.TEST])
async def test_a_drill_in_hand_off_mode_goes_to_the_outbox_never_to_the_officer_to_paste(
    tmp_path: Path, status: Status
) -> None:
    result = await adapter(tmp_path).send(delivery(status=status, title="【訓練】避難指示"))
    assert result.mode == "outbox" and result.handoff is None
    records = read_outbox(tmp_path / "outbox" / "anamizu" / "area_mail_docomo.jsonl")
    assert [r["status"] for r in records] == [status.value]


@pytest.fixture
async def gateway() -> AsyncIterator[FakeCarrierGateway]:
    async with FakeCarrierGateway(TOKEN) as fake:
        yield fake


async def test_the_json_link_sends_one_request_for_the_carrier_and_a_repeat_is_the_same_message(
    tmp_path: Path, gateway: FakeCarrierGateway
) -> None:
    a = adapter(tmp_path, "area_mail_kddi", link="json", base_url=gateway.live_url)
    try:
        first = await a.send(delivery("area_mail_kddi"))
        again = await a.send(delivery("area_mail_kddi"))  # a retry after a lost answer
    finally:
        await a.close()
    assert first.mode == "live" and first.provider_ref == again.provider_ref
    [sent] = gateway.accepted()
    assert sent["carrier"] == "kddi" and sent["mode"] == "actual"
    assert sent["municipality"] == {"code": "174611", "name": "穴水町"}
    assert (sent["title"], sent["body"]) == (ORDER_TITLE, ORDER_BODY)
    assert [r.status for r in gateway.received] == [202, 409]
    assert gateway.received[0].key == gateway.received[1].key


async def test_the_json_link_says_what_to_retry_and_what_is_refused_for_good(
    tmp_path: Path, gateway: FakeCarrierGateway
) -> None:
    a = adapter(tmp_path, link="json", base_url=gateway.live_url)
    try:
        gateway.fail_next(429, retry_after="7")
        with pytest.raises(TransientError) as e:
            await a.send(delivery())
        assert e.value.retry_after == 7
        gateway.fail_next(503)
        with pytest.raises(TransientError):
            await a.send(delivery())
        gateway.fail_next(400)
        with pytest.raises(PermanentError):
            await a.send(delivery())
        bad = adapter(tmp_path, link="json", base_url=gateway.live_url)
        bad.link._token = "wrong"  # type: ignore[union-attr]
        with pytest.raises(PermanentError, match="refused"):
            await bad.send(delivery())
        await bad.close()
    finally:
        await a.close()


async def test_drills_go_to_the_verification_environment_or_nowhere_never_live(
    tmp_path: Path, gateway: FakeCarrierGateway
) -> None:
    plain = adapter(tmp_path, link="json", base_url=gateway.live_url)
    both = adapter(tmp_path, link="json", base_url=gateway.live_url, verification_url=gateway.verify_url)
    try:
        kept = await plain.send(delivery(status=Status.EXERCISE, title="【訓練】避難指示"))
        assert kept.mode == "outbox"
        verified = await both.send(delivery(status=Status.EXERCISE, title="【訓練】避難指示"))
        assert verified.mode == "live"
        await both.send(delivery(key_seed="b2"))
    finally:
        await plain.close()
        await both.close()
    [drill] = gateway.accepted("verify")
    assert drill["mode"] == "exercise" and drill["body"].startswith("【訓練】")
    assert [r["mode"] for r in gateway.accepted("live")] == ["actual"]


def test_the_json_link_is_an_entry_point_and_needs_its_token(tmp_path: Path) -> None:
    assert registry.load(LINKS_GROUP, "json") is JsonLink
    with pytest.raises(ConfigError, match="token"):
        AreaMailAdapter.from_settings(
            "area_mail_docomo", ChannelSettings(options={"link": "json", "base_url": "http://127.0.0.1:9"}), env(tmp_path)
        )
    with pytest.raises(ConfigError, match=r"no broadcaster\.area_mail_links entry point"):
        adapter(tmp_path, link="carrier-x")
