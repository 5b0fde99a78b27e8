"""The L-Alert parser on the project's own 穴水町 samples and on hand-made documents for each rule."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from adapters.ingest.lalert import LAlertParser, parse_bytes
from adapters.ingest.lalert.vocabulary import classify_sort
from broadcaster.model import (
    JIS_X0402,
    JST,
    KIND,
    LEVEL,
    Alert,
    Kind,
    MsgType,
    RawEvent,
    ResponseType,
    Severity,
    Status,
    Urgency,
)
from broadcaster.parsing import SourceParser
from tests.fakes.lalert import commons_doc, evacuation_body

DATA = Path(__file__).resolve().parents[2] / "samples" / "lalert"
ORDER_DOC = "editor.town.anamizu.lg.jp-2aafe4d1-7b04-49d6-9224-769cfb5755e5"


def one(data: bytes) -> Alert:
    (alert,) = parse_bytes(data)
    return alert


def sample(name: str) -> Alert:
    return one((DATA / name).read_bytes())


def test_parser_satisfies_the_protocol() -> None:
    assert isinstance(LAlertParser(), SourceParser)
    assert LAlertParser.name == "lalert"


def test_anamizu_evacuation_order() -> None:
    alert = sample("anamizu_evacuation_order.xml")
    info = alert.primary
    assert alert.identifier == f"lalert-{ORDER_DOC}-r1"
    assert alert.event_key == f"lalert|{ORDER_DOC}"
    assert alert.sender == "editor.town.anamizu.lg.jp"
    assert alert.sent == datetime(2025, 7, 10, 2, 40, tzinfo=JST)
    assert (alert.status, alert.msg_type, alert.references) == (Status.ACTUAL, MsgType.ALERT, ())
    assert (alert.origin, alert.tenant) == ("lalert", None)
    assert info.event_codes(KIND) == (Kind.EVACUATION.value,)
    assert info.param(LEVEL) == "4"
    assert info.event == "避難指示"
    assert info.response_type == (ResponseType.EVACUATE,)
    assert (info.urgency, info.severity) == (Urgency.IMMEDIATE, Severity.SEVERE)
    assert [a.area_desc for a in info.area] == ["川島地区", "大町地区"]
    assert all(a.codes(JIS_X0402) == ("174611",) for a in info.area)
    # No 大字町丁目コード in the sample: no district geocode is invented.
    assert all(a.codes("district") == () for a in info.area)
    assert info.area[0].circle == ("37.2318,136.9117 0",)
    assert info.param("lalert:households") == "680"
    assert info.param("lalert:headCount") == "1476"
    assert info.param("lalert:area.1.households") == "412"
    assert info.param("lalert:area.2.headCount") == "571"
    assert info.param("lalert:order.1.areas") == "川島地区、大町地区"
    assert info.param("lalert:issueOrLift") == "発令"
    assert info.headline == "避難指示 発令 07月10日午前02時40分 (川島地区、大町地区)"
    assert info.description is not None
    assert "危険な場所から全員避難" in info.description
    assert info.sender_name == "穴水町"


def test_anamizu_lift_updates_the_order() -> None:
    order, lift = sample("anamizu_evacuation_order.xml"), sample("anamizu_evacuation_lift.xml")
    assert lift.event_key == order.event_key
    assert lift.identifier == f"lalert-{ORDER_DOC}-r2"
    assert lift.msg_type is MsgType.UPDATE
    assert lift.references == (f"{order.sender},{order.identifier},2025-07-10T02:40:00+09:00",)
    assert lift.referenced_identifiers() == (order.identifier,)
    info = lift.primary
    assert info.event == "避難指示解除"
    assert info.response_type == (ResponseType.ALL_CLEAR,)
    assert info.urgency is Urgency.PAST
    assert info.param("lalert:issueOrLift") == "解除"
    # The level lifted stays on the alert so that the rules that sent the order send its lifting.
    assert info.param(LEVEL) == "4"
    assert [a.area_desc for a in info.area] == ["川島地区", "大町地区"]


def test_anamizu_shelter_opening() -> None:
    alert = sample("anamizu_shelter_open.xml")
    info = alert.primary
    assert info.event_codes(KIND) == (Kind.SHELTER.value,)
    assert info.event == "避難所開設"
    assert LEVEL not in {p.value_name for p in info.parameter}
    assert [a.area_desc for a in info.area] == ["穴水中学校体育館", "川島公民館"]
    assert info.area[0].circle == ("37.2335,136.9052 0",)
    assert info.area[1].codes(JIS_X0402) == ("174611",)
    assert info.param("lalert:shelter.1.status") == "開設"
    assert info.param("lalert:shelter.1.capacity") == "300"
    assert info.param("lalert:shelter.2.capacity") == "80"
    assert info.param("lalert:shelter.1.lat") == "37.2335"
    assert info.param("lalert:shelter.1.lon") == "136.9052"
    assert info.param("lalert:shelter.1.address") == "石川県鳳珠郡穴水町字大町（サンプル）"
    assert info.param("lalert:shelter.1.type") == "指定避難所"
    assert info.param("lalert:shelter.2.headCount") == "12"
    assert info.param("lalert:shelterCount") == "2"


def test_raw_event_tenant_and_received_are_carried() -> None:
    raw = RawEvent(
        source="lalert",
        body=(DATA / "anamizu_evacuation_order.xml").read_bytes(),
        tenant="anamizu",
        submitted_by="source:lalert-anamizu",
    )
    parser = LAlertParser()
    assert parser.accepts(raw)
    (alert,) = parser.parse(raw)
    assert alert.tenant == "anamizu"
    assert alert.received == raw.received


def test_accepts_by_content_and_refuses_other_formats() -> None:
    parser = LAlertParser()
    lalert = RawEvent(source="file", body=(DATA / "anamizu_shelter_open.xml").read_bytes(), submitted_by="t")
    jma = RawEvent(
        source="jma",
        body=b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control/></Report>',
        submitted_by="t",
    )
    assert parser.accepts(lalert)
    assert not parser.accepts(jma)


def test_soap_envelope_yields_the_same_alert() -> None:
    bare = (DATA / "anamizu_evacuation_order.xml").read_bytes()
    inner = bare.split(b"?>", 1)[1].split(b"-->", 1)[1]
    wrapped = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<pcsoap:publish xmlns:pcsoap="http://soap.publiccommons.ne.jp/"><pcsoap:message>'
        + inner
        + b"</pcsoap:message></pcsoap:publish></soap:Body></soap:Envelope>"
    )
    assert one(wrapped) == one(bare)


def test_parsing_is_deterministic() -> None:
    data = (DATA / "anamizu_evacuation_lift.xml").read_bytes()
    assert parse_bytes(data) == parse_bytes(data)


@pytest.mark.parametrize(
    ("wording", "label", "level"),
    [
        # before 2019
        ("避難準備", "高齢者等避難", 3),
        ("避難勧告", "避難指示", 4),
        ("避難指示", "避難指示", 4),
        # 2016–2021
        ("避難準備・高齢者等避難開始", "高齢者等避難", 3),
        ("避難指示（緊急）", "避難指示", 4),
        ("災害発生情報", "緊急安全確保", 5),
        ("【警戒レベル４】避難勧告", "避難指示", 4),
        # since May 2021
        ("高齢者等避難", "高齢者等避難", 3),
        ("【警戒レベル5】緊急安全確保", "緊急安全確保", 5),
        ("警戒レベル３　高齢者等避難", "高齢者等避難", 3),
        # outside the level scale
        ("警戒区域", "警戒区域", None),
        ("自主避難の呼びかけ", "自主避難の呼びかけ", None),
    ],
)
def test_every_generation_of_evacuation_wording(wording: str, label: str, level: int | None) -> None:
    sort = classify_sort(wording)
    assert (sort.label, sort.level, sort.original) == (label, level, wording)


def test_highest_level_in_force_wins_over_lifted_ones() -> None:
    body = evacuation_body(
        ("避難指示", "解除", ("川島地区",)), ("高齢者等避難", "発令", ("川島地区", "大町地区"))
    )
    info = one(commons_doc(body)).primary
    assert info.param(LEVEL) == "3"
    assert info.event == "高齢者等避難"
    assert info.response_type == (ResponseType.PREPARE,)
    assert info.param("lalert:issueOrLift") == "発令"
    assert info.param("lalert:order.1.issueOrLift") == "解除"
    assert info.param("lalert:order.2.label") == "高齢者等避難"
    # The same district in two orders is one area.
    assert [a.area_desc for a in info.area] == ["川島地区", "大町地区"]


def test_level_five_is_extreme() -> None:
    info = one(commons_doc(evacuation_body(("緊急安全確保", "発令", ("大町地区",))))).primary
    assert (info.param(LEVEL), info.severity, info.urgency) == ("5", Severity.EXTREME, Urgency.IMMEDIATE)
    assert info.response_type == (ResponseType.EVACUATE,)


def test_old_wording_document_maps_to_current_levels() -> None:
    body = evacuation_body(("避難準備・高齢者等避難開始", "発令", ("A",)), ("避難勧告", "発令", ("B",)))
    info = one(commons_doc(body)).primary
    assert info.param(LEVEL) == "4"
    assert info.event == "避難指示"
    assert info.param("lalert:order.2.sort") == "避難勧告"


def test_district_without_jis_code_takes_the_documents() -> None:
    info = one(commons_doc(evacuation_body(("避難指示", "発令", ("川島地区",))))).primary
    assert info.area[0].codes(JIS_X0402) == ("174611",)


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("Actual", None, Status.ACTUAL),
        ("実運用", None, Status.ACTUAL),
        ("訓練", None, Status.EXERCISE),
        ("試験", None, Status.TEST),
        ("Exercise", "Exercise", Status.EXERCISE),
        (None, "Test", Status.TEST),
        ("System", None, Status.SYSTEM),
    ],
)
def test_status_words(outer: str | None, inner: str | None, expected: Status) -> None:
    alert = one(commons_doc(status=outer, control_status=inner))
    assert alert.status is expected
    assert alert.note is None


def test_conflicting_status_is_taken_as_the_drill() -> None:
    alert = one(commons_doc(status="Actual", control_status="訓練"))
    assert alert.status is Status.EXERCISE
    assert alert.note is not None
    assert "Control" in alert.note


@pytest.mark.parametrize("dist_type", ["Cancel", "取消"])
def test_cancel_references_the_previous_revision(dist_type: str) -> None:
    alert = one(
        commons_doc(
            dist_type=dist_type,
            revision="3",
            previous="2",
            first_created="2025-07-10T01:00:00+09:00",
            errata="誤って発信したため取り消します。",
        )
    )
    assert alert.msg_type is MsgType.CANCEL
    assert alert.identifier == "lalert-doc-0001-r3"
    assert alert.event_key == "lalert|doc-0001"
    # The second edition's own send time is not in the document; the first edition's is the bound.
    assert alert.references == ("editor.town.anamizu.lg.jp,lalert-doc-0001-r2,2025-07-10T01:00:00+09:00",)
    assert alert.note == "誤って発信したため取り消します。"


def test_cancel_written_as_a_status() -> None:
    alert = one(commons_doc(status="取消", control_status="訓練", dist_type="Update", revision="2"))
    assert alert.msg_type is MsgType.CANCEL
    assert alert.status is Status.EXERCISE
    assert alert.referenced_identifiers() == ("lalert-doc-0001-r1",)


def test_cancel_written_as_info_type() -> None:
    data = commons_doc(revision="2").replace(
        b"<pcx_ib:Title>", "<pcx_ib:InfoType>取消</pcx_ib:InfoType><pcx_ib:Title>".encode()
    )
    assert one(data).msg_type is MsgType.CANCEL


def test_later_revision_without_type_is_an_update_of_the_one_before() -> None:
    alert = one(commons_doc(dist_type=None, revision="5"))
    assert alert.msg_type is MsgType.UPDATE
    assert alert.referenced_identifiers() == ("lalert-doc-0001-r4",)


def test_previous_revision_zero_names_no_edition() -> None:
    alert = one(commons_doc(dist_type="Update", revision="1", previous="0"))
    assert alert.msg_type is MsgType.ALERT
    assert alert.note is not None


def test_revision_given_only_in_the_head() -> None:
    alert = one(commons_doc(revision=None, head_revision="2", head_doc_id="doc-0001", dist_type="Update"))
    assert alert.identifier == "lalert-doc-0001-r2"
    assert alert.msg_type is MsgType.UPDATE


def test_non_ascii_document_id_becomes_a_stable_ascii_identifier() -> None:
    a = one(commons_doc(doc_id="穴水町 避難 1"))
    b = one(commons_doc(doc_id="穴水町 避難 2"))
    assert a.identifier.isascii()
    assert b.identifier.isascii()
    assert a.identifier != b.identifier
    assert a.event_key == "lalert|穴水町 避難 1"
    assert one(commons_doc(doc_id="穴水町 避難 1")).identifier == a.identifier


def test_time_without_offset_is_japan_time() -> None:
    alert = one(commons_doc(sent="2025-07-10T02:40:00"))
    assert alert.sent == datetime(2025, 7, 10, 2, 40, tzinfo=JST)


DAMAGE = """<pcx_di:DamageInformation>
  <pcx_eb:Disaster><pcx_eb:DisasterName>令和7年7月大雨</pcx_eb:DisasterName></pcx_eb:Disaster>
  <pcx_di:HumanDamages>
    <pcx_di:HumanDamage pcx_di:humanDamageType="死者" pcx_di:counterUnit="人">1</pcx_di:HumanDamage>
    <pcx_di:HumanDamage pcx_di:humanDamageType="負傷者_軽傷" pcx_di:counterUnit="人">4</pcx_di:HumanDamage>
  </pcx_di:HumanDamages>
  <pcx_di:HouseDamages>
    <pcx_di:HouseDamage pcx_di:houseDamageType="床上浸水" pcx_di:counterUnit="棟">12</pcx_di:HouseDamage>
  </pcx_di:HouseDamages>
</pcx_di:DamageInformation>"""


def test_damage_information() -> None:
    info = one(commons_doc(DAMAGE, category="DamageInformation")).primary
    assert info.event_codes(KIND) == (Kind.DAMAGE.value,)
    assert info.event == "被害情報"
    assert info.param("lalert:damage.死者.人") == "1"
    assert info.param("lalert:damage.床上浸水.棟") == "12"
    assert info.description is not None
    assert "負傷者_軽傷 4人" in info.description
    # The body names no places: the document's target area (the town) applies.
    assert [(a.area_desc, a.codes()) for a in info.area] == [("石川県穴水町", ("174611",))]


def test_headquarters() -> None:
    body = (
        "<pcx_ah:AntidisasterHeadquarter><pcx_ah:Type>災害対策本部</pcx_ah:Type>"
        "<pcx_ah:Status>設置</pcx_ah:Status><pcx_ah:DateTime>2025-07-10T02:00:00+09:00</pcx_ah:DateTime>"
        "</pcx_ah:AntidisasterHeadquarter>"
    )
    info = one(commons_doc(body, category="AntidisasterHeadquarter")).primary
    assert info.event_codes(KIND) == (Kind.HEADQUARTERS.value,)
    assert info.event == "災害対策本部設置"
    assert info.param("lalert:headquarters.status") == "設置"


def test_urgent_mail() -> None:
    body = (
        "<pcx_um:UrgentMail><pcx_um:Information><pcx_um:Title>避難指示発令</pcx_um:Title>"
        "<pcx_um:Message>川島地区に避難指示を発令しました。</pcx_um:Message></pcx_um:Information></pcx_um:UrgentMail>"
    )
    info = one(commons_doc(body, category="UrgentMail")).primary
    assert info.event_codes(KIND) == (Kind.OTHER.value,)
    assert info.event_codes("lalert:category") == ("UrgentMail",)
    assert info.headline == "避難指示発令"
    assert info.description is not None
    assert info.description.startswith("川島地区に避難指示を発令しました。")
    assert info.urgency is Urgency.IMMEDIATE


def test_general_information_is_a_notice() -> None:
    body = (
        "<pcx_gi:GeneralInformation><pcx_gi:Text>ごみ収集日の変更</pcx_gi:Text></pcx_gi:GeneralInformation>"
    )
    info = one(commons_doc(body, category="GeneralInformation")).primary
    assert info.event_codes(KIND) == (Kind.NOTICE.value,)
    assert info.event == "お知らせ"
    assert info.description is not None
    assert "ごみ収集日の変更" in info.description


def test_unknown_category_is_other_not_refused() -> None:
    info = one(commons_doc("", category="Weather")).primary
    assert info.event_codes(KIND) == (Kind.OTHER.value,)
    assert info.event == "Weather"


def test_shelter_closing_is_all_clear() -> None:
    body = (
        "<pcx_sh:Shelter><pcx_sh:Informations><pcx_sh:Information><pcx_sh:Location>"
        "<commons:areaName>川島公民館</commons:areaName></pcx_sh:Location><pcx_sh:Sort>閉鎖</pcx_sh:Sort>"
        "</pcx_sh:Information></pcx_sh:Informations></pcx_sh:Shelter>"
    )
    info = one(commons_doc(body, category="Shelter")).primary
    assert info.event == "避難所閉鎖"
    assert info.response_type == (ResponseType.ALL_CLEAR,)
    assert [a.area_desc for a in info.area] == ["川島公民館"]
