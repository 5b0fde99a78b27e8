"""The mail intake's reading of receiver mails: the shipped patterns, a town's own rules, the
encodings Japanese devices write, the chaining of an event's stages, the contacts' texts."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.ingest.jalert import JAlertParser
from adapters.ingest.jalert.bridge import load_bridge_settings
from adapters.ingest.jalert.bridge.chains import Chains
from adapters.ingest.jalert.bridge.contacts import APPROVED, ContactSettings, contact_message
from adapters.ingest.jalert.bridge.health import HealthLog
from adapters.ingest.jalert.bridge.mailintake import MailIntake
from adapters.ingest.jalert.bridge.mailread import MailUnreadable, read_mail
from adapters.ingest.jalert.bridge.mailrules import DEFAULT_RULES, MailRule, match
from adapters.ingest.jalert.bridge.receivers import ReceiverSettings
from adapters.ingest.jalert.bridge.spool import Spool
from broadcaster.errors import ConfigError, ParseError
from broadcaster.model import JST, KIND, RawEvent, Status
from broadcaster.model.change import RELAY

LAUNCH = "ミサイル発射。ミサイル発射。北朝鮮からミサイルが発射されたものとみられます。建物の中、または地下に避難して下さい。"


@pytest.mark.parametrize(
    ("subject", "body", "rule", "status", "title"),
    [
        ("【Jアラート】弾道ミサイル情報", LAUNCH, "missile", "実運用", "弾道ミサイル"),
        ("Jアラート受信通知", "情報種別：弾道ミサイル情報\n" + LAUNCH, "missile", "実運用", "弾道ミサイル"),
        ("【Jアラート】緊急地震速報", "緊急地震速報。大きな揺れに警戒して下さい。", "eew", "実運用", "緊急地震速報"),
        ("【Jアラート】大津波警報", "大津波警報が発表されました。", "tsunami", "実運用", "大津波警報"),
        ("【Jアラート】津波注意報", "津波注意報が発表されました。", "tsunami", "実運用", "津波注意報"),
        ("【Jアラート】気象等の特別警報", "大雨特別警報が発表されました。", "special_warning", "実運用", "特別警報"),
        ("【Jアラート】噴火警報", "噴火警報（居住地域）", "volcano", "実運用", "噴火警報"),
        ("【Jアラート】大規模テロ情報", "大規模テロ情報。屋内に避難してください。", "terror", "実運用", "大規模テロ"),
        ("【Jアラート】航空攻撃情報", "航空攻撃情報。", "air_attack", "実運用", "航空攻撃"),
        ("【Jアラート】ゲリラ・特殊部隊攻撃情報", "ゲリラ攻撃情報。", "guerrilla", "実運用", "ゲリラ"),
        ("【Jアラート】国民保護情報", "住民の避難について", "civil_protection", "実運用", "国民保護"),
        ("Jアラート全国一斉情報伝達試験", "これは、Jアラートのテストです。", "national_test", "試験", "Jアラート試験"),
        ("【訓練】弾道ミサイル情報", LAUNCH, "missile", "訓練", "弾道ミサイル"),
        ("【Jアラート】震度速報", "石川県能登 震度５強", "jma_information", "実運用", "震度速報"),
        ("【Jアラート】土砂災害警戒情報", "石川県", "jma_information", "実運用", "土砂災害警戒情報"),
        # full-width letters and half-width kana are read as their plain forms (NFKC)
        ("ｊアラート ﾃｽﾄ", "", "national_test", "試験", "Jアラート試験"),
    ],
)
def test_the_shipped_patterns_recognise_the_common_messages(
    subject: str, body: str, rule: str, status: str, title: str
) -> None:
    found = match(subject, body, [], DEFAULT_RULES)
    assert found is not None
    assert (found.rule.name, found.status, found.title) == (rule, status, title)


def test_a_mail_no_pattern_matches_is_not_guessed() -> None:
    assert match("受信機の定期保守のお知らせ", "明日10時から保守を行います。", [], DEFAULT_RULES) is None
    assert match("", "", [], DEFAULT_RULES) is None


def test_only_the_jma_information_the_feed_carries_is_heard_without_forwarding() -> None:
    forwarded = {r.name for r in DEFAULT_RULES if r.forward}
    assert forwarded == {r.name for r in DEFAULT_RULES} - {"jma_information"}


def test_cancel_and_info_number_are_read_and_a_towns_rules_go_first() -> None:
    cancel = match("【Jアラート】弾道ミサイル情報（取消）", "先ほどの情報を取り消します。", [], DEFAULT_RULES)
    assert cancel is not None and cancel.cancel and cancel.rule.name == "missile"
    own = (
        MailRule(name="rx-missile", info_numbers=("1001",), category="missile"),
        MailRule(name="weather-box", to=r"weather@bridge\.example\.lg\.jp", category="other", forward=False),
    )
    by_number = match("受信通知", "情報番号：１００１\n" + LAUNCH, [], (*own, *DEFAULT_RULES))
    assert by_number is not None and (by_number.rule.name, by_number.info_number) == ("rx-missile", "1001")
    by_address = match("【Jアラート】緊急地震速報", "…", ["Weather@bridge.example.lg.jp"], (*own, *DEFAULT_RULES))
    assert by_address is not None and by_address.rule.name == "weather-box"


def test_a_rule_must_say_something_and_compile() -> None:
    with pytest.raises(ValueError, match="give subject"):
        MailRule(name="empty")
    with pytest.raises(ValueError, match="not a regular expression"):
        MailRule(name="bad", subject="(")


def _mail(subject: str, body: str, charset: str, *, html: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = "jalert-rx@town.example.lg.jp"
    msg["To"] = "bridge@town.example.lg.jp"
    msg["Subject"] = subject
    msg["Date"] = "Thu, 10 Jul 2025 07:02:40 +0900"
    msg["Message-ID"] = "<rx-0001@town.example.lg.jp>"
    if html:
        msg.set_content(f"<html><body><p>{body}</p><script>x()</script></body></html>", subtype="html", charset=charset)
    else:
        msg.set_content(body, charset=charset)
    return msg.as_bytes()


@pytest.mark.parametrize("charset", ["iso-2022-jp", "shift_jis", "utf-8"])
def test_japanese_mail_is_read_in_any_of_the_encodings_receivers_write(charset: str) -> None:
    mail = read_mail(_mail("【Jアラート】弾道ミサイル情報", LAUNCH, charset))
    assert mail.subject == "【Jアラート】弾道ミサイル情報"
    assert mail.body == LAUNCH
    assert mail.sent == datetime(2025, 7, 10, 7, 2, 40, tzinfo=JST)
    assert mail.digest == read_mail(_mail("別の題", "別の本文", "utf-8")).digest, "the Message-ID identifies the mail"


def test_html_mail_becomes_its_text_and_unreadable_mail_says_why() -> None:
    mail = read_mail(_mail("【Jアラート】緊急地震速報", "緊急地震速報です", "utf-8", html=True))
    assert "緊急地震速報です" in mail.body and "x()" not in mail.body
    bad = b"Subject: test\r\nContent-Type: text/plain; charset=x-unknown-charset\r\n\r\nabc\r\n"
    with pytest.raises(MailUnreadable) as e:
        read_mail(bad)
    assert e.value.reason == "mail_malformed"
    with pytest.raises(MailUnreadable) as e:
        read_mail(b"From: a@b\r\n\r\n")
    assert e.value.reason == "mail_empty"


def test_an_events_stages_chain_and_a_drill_never_continues_a_real_event(tmp_path: Path) -> None:
    chains = Chains(tmp_path / "chains.json")
    t0 = datetime(2025, 7, 10, 7, 2, tzinfo=JST)
    assert chains.link("rx1", "missile", "実運用", "m1", t0, cancel=False).references is None
    drill = chains.link("rx1", "missile", "訓練", "d1", t0, cancel=False)
    assert (drill.event, drill.references) == ("d1", None)
    second = chains.link("rx1", "missile", "実運用", "m2", t0 + timedelta(minutes=2), cancel=False)
    assert (second.event, second.references) == ("m1", "m1")
    # The receiver sends the same mail again: the same place, not a third stage.
    assert chains.link("rx1", "missile", "実運用", "m2", t0 + timedelta(minutes=2), cancel=False) == second
    # Survives a restart of the bridge.
    again = Chains(tmp_path / "chains.json")
    cancel = again.link("rx1", "missile", "実運用", "m3", t0 + timedelta(minutes=20), cancel=True)
    assert (cancel.event, cancel.references) == ("m1", "m2")
    after = again.link("rx1", "missile", "実運用", "m4", t0 + timedelta(minutes=25), cancel=False)
    assert after.event == "m4", "a cancelled event is over"
    late = again.link("rx1", "missile", "実運用", "m5", t0 + timedelta(hours=3), cancel=False)
    assert late.event == "m5", "outside the kind's window a new event begins"
    assert again.link("rx1", "other", "実運用", "o1", t0, cancel=False).references is None


@pytest.mark.parametrize("kind", sorted(APPROVED))
def test_every_contact_type_sends_its_approved_text_as_a_relay_without_a_stage(kind: str) -> None:
    body = contact_message("3", ContactSettings(type=kind), "rx1", datetime(2025, 7, 10, 7, 2, 38, tzinfo=JST))  # type: ignore[arg-type]
    [alert] = JAlertParser().parse(RawEvent(source="jalert", body=body, tenant="anamizu", submitted_by="t"))
    info = alert.primary
    approved = APPROVED[kind]
    assert info.description == approved.text
    assert info.param(RELAY) == "jalert/contact"
    assert info.param("jalert:receiver") == "rx1"
    assert info.param("missileStage") is None, "a contact never claims a stage"
    assert alert.status is (Status.TEST if kind == "test" else Status.ACTUAL)
    assert info.event_codes(KIND)[0] == {"test": "other", "civil_protection": "missile"}.get(kind, kind)


def test_a_towns_own_approved_text_replaces_the_shipped_one() -> None:
    own = ContactSettings(type="tsunami", text="大津波のおそれ。直ちに高台へ。", title="津波")
    body = contact_message("2", own, "rx1")
    [alert] = JAlertParser().parse(RawEvent(source="jalert", body=body, tenant="anamizu", submitted_by="t"))
    assert alert.primary.description == "大津波のおそれ。直ちに高台へ。"


def test_a_receivers_settings_are_checked() -> None:
    r = ReceiverSettings(
        name="rx1", addresses=("JAlert@Town.example.lg.jp",), networks=("10.1.2.0/24",), text_from=r"本文[:：](.*)"
    )
    assert r.sends_from("10.1.2.9", "jalert@town.example.lg.jp")
    assert r.sends_from("::ffff:10.1.2.9", "jalert@town.example.lg.jp")
    assert not r.sends_from("10.1.3.9", "jalert@town.example.lg.jp")
    assert not r.sends_from("10.1.2.9", "someone@town.example.lg.jp")
    assert r.message_text("種別：緊急地震速報\n本文：強い揺れに警戒") == "強い揺れに警戒"
    with pytest.raises(ValueError, match="CIDR"):
        ReceiverSettings(name="rx2", networks=("somewhere",))
    with pytest.raises(ValueError, match="group"):
        ReceiverSettings(name="rx3", text_from="本文")


def _some_mail(subject: str, body: str, charset: str) -> bytes | None:
    """A mail as a device writes it, when the text can be written in that charset at all."""
    try:
        return _mail(subject, body, charset)
    except (ValueError, UnicodeError):
        return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(max_size=600),
        st.builds(
            lambda subject, body, cs: _some_mail(subject, body, cs),
            st.text(max_size=60),
            st.one_of(st.text(max_size=300), st.sampled_from([LAUNCH, "緊急地震速報。", "大津波警報", "これはJアラートのテストです"])),
            st.sampled_from(["utf-8", "iso-2022-jp", "shift_jis"]),
        ).filter(lambda b: b is not None),
    )
)
def test_whatever_a_receiver_sends_is_spooled_heard_or_quarantined_never_a_crash(tmp_path: Path, raw: bytes) -> None:
    spool = Spool(tmp_path / "spool")
    intake = MailIntake(
        [ReceiverSettings(name="rx1", addresses=("a@b.lg.jp",), networks=("127.0.0.0/8",))],
        spool,
        HealthLog(tmp_path / "spool" / "receivers.json", {"rx1": 2400.0}),
        Chains(tmp_path / "spool" / "chains.json"),
    )
    before = spool.depth()
    outcome = intake.process(intake.receivers[0], raw, ["bridge@b.lg.jp"])
    assert outcome.kind in ("spooled", "heard", "quarantined")
    assert spool.depth() == before + (0 if outcome.kind == "heard" else 1)
    item = spool.head()
    if outcome.kind == "spooled" and item is not None:
        # What the intake writes, the broadcaster's parser reads (or refuses with a reason).
        parsed = JAlertParser().parse(RawEvent(source="jalert", body=spool._read(max(spool.queue.iterdir())).body, tenant="anamizu", submitted_by="t"))
        assert parsed[0].primary.param(RELAY) == "jalert/mail"


def test_the_bridge_refuses_a_mail_intake_without_receivers_and_unknown_names() -> None:
    base = {"endpoint": "http://127.0.0.1:9/ingest/jalert", "key_id": "rx", "secret": "s" * 40}
    with pytest.raises(ConfigError, match="needs \\[\\[receivers\\]\\]"):
        load_bridge_settings(None, **base, mail_listen="127.0.0.1:2525")
    with pytest.raises(ConfigError, match="give addresses and networks"):
        load_bridge_settings(None, **base, mail_listen="127.0.0.1:2525", receivers=[{"name": "rx1"}])
    with pytest.raises(ConfigError, match="no receiver named 'rx9'"):
        load_bridge_settings(None, **base, listen="127.0.0.1:0", contacts={"1": {"type": "eew", "receiver": "rx9"}})
    ok = load_bridge_settings(None, **base, listen="127.0.0.1:0", contacts={"1": {"type": "eew"}, "2": "format = jalert/1"})
    assert ok.health_receivers() == {"receiver": 2400.0}


SAMPLE_MAILS = Path(__file__).resolve().parents[2] / "samples" / "jalert" / "mail"


@pytest.mark.parametrize(
    ("name", "kind", "status", "headline"),
    [
        ("01_missile_drill.eml", "missile", Status.EXERCISE, "ミサイル発射"),
        ("02_eew_drill.eml", "eew", Status.EXERCISE, "緊急地震速報"),
        ("03_national_test.eml", "other", Status.TEST, "Jアラート試験"),
        ("bad_unknown.eml", None, None, None),
    ],
)
def test_the_sample_mails_become_what_the_samples_readme_says(
    tmp_path: Path, name: str, kind: str | None, status: Status | None, headline: str | None
) -> None:
    spool = Spool(tmp_path / "spool")
    intake = MailIntake(
        [ReceiverSettings(name="rx1", addresses=("jalert-rx@town.example.lg.jp",), networks=("127.0.0.0/8",))],
        spool,
        HealthLog(tmp_path / "receivers.json", {"rx1": 2400.0}),
        Chains(tmp_path / "chains.json"),
    )
    outcome = intake.process(intake.receivers[0], (SAMPLE_MAILS / name).read_bytes(), ["bridge@town.example.lg.jp"])
    item = spool.head()
    assert item is not None
    raw = RawEvent(source="jalert", body=item.body, content_type=item.content_type, tenant="anamizu", submitted_by="t")
    if kind is None:
        assert outcome.kind == "quarantined" and outcome.reason == "mail_unmatched"
        with pytest.raises(ParseError) as e:
            JAlertParser().parse(raw)
        assert e.value.reason == "mail_unmatched"
        return
    [alert] = JAlertParser().parse(raw)
    assert (alert.primary.event_codes(KIND)[0], alert.status, alert.primary.headline) == (kind, status, headline)
