"""The commons document builder: a town's own alerts out, and back in through the parser."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from adapters.ingest.lalert import parse_bytes
from adapters.ingest.lalert.namespaces import COMMONS, EDXL_DE, PCXML
from adapters.outbound.lalert_out import PublisherInfo, build_document, revision_for
from adapters.outbound.lalert_out.document import build_element, document_id
from adapters.outbound.lalert_out.soap import envelope
from broadcaster.errors import PermanentError
from broadcaster.model import (
    DISTRICT_CODE,
    JIS_X0402,
    KIND,
    LEVEL,
    Alert,
    Kind,
    MsgType,
    NamedValue,
    ResponseType,
    Status,
)
from tests.fakes.lalert import TOWN_SENT, anamizu_publisher, district, town_alert

DATA = Path(__file__).resolve().parents[2] / "samples" / "lalert"
PUBLISHER = anamizu_publisher()


def round_trip(alert: Alert, revision: int, publisher: PublisherInfo = PUBLISHER) -> Alert:
    (parsed,) = parse_bytes(build_document(alert, revision=revision, publisher=publisher))
    return parsed


def lift_of(original: Alert) -> Alert:
    return town_alert(
        identifier="anamizu-0002",
        msg_type=MsgType.UPDATE,
        references=(original.reference_key,),
        sent=TOWN_SENT + timedelta(hours=3, minutes=30),
        response=(ResponseType.ALL_CLEAR,),
        event="避難指示",
    )


def test_evacuation_order_round_trip() -> None:
    alert = town_alert()
    parsed = round_trip(alert, 1)
    doc = document_id(alert, PUBLISHER)
    info = parsed.primary
    assert parsed.identifier == f"lalert-{doc}-r1"
    assert parsed.event_key == f"lalert|{doc}"
    assert parsed.sender == "editor.town.anamizu.lg.jp"
    assert (parsed.status, parsed.msg_type, parsed.references) == (Status.ACTUAL, MsgType.ALERT, ())
    assert parsed.sent == alert.sent
    assert info.event_codes(KIND) == (Kind.EVACUATION.value,)
    assert info.param(LEVEL) == "4"
    assert info.event == "避難指示"
    assert info.response_type == (ResponseType.EVACUATE,)
    assert [a.area_desc for a in info.area] == ["川島地区", "大町地区"]
    assert all(a.codes(JIS_X0402) == ("174611",) for a in info.area)
    assert info.param("lalert:issueOrLift") == "発令"


@pytest.mark.parametrize(("level", "event"), [(3, "高齢者等避難"), (4, "避難指示"), (5, "緊急安全確保")])
def test_each_level_is_written_in_current_wording(level: int, event: str) -> None:
    info = round_trip(town_alert(level=level, event=event), 1).primary
    assert info.param(LEVEL) == str(level)
    assert info.param("lalert:order.1.sort") == event


def test_lift_is_revision_two_and_references_the_order() -> None:
    order = town_alert()
    parsed = round_trip(lift_of(order), 2)
    doc = document_id(order, PUBLISHER)
    assert parsed.msg_type is MsgType.UPDATE
    assert parsed.event_key == f"lalert|{doc}"
    # FirstCreateDateTime carries the original's send time, so the reference is exact.
    assert parsed.references == (f"editor.town.anamizu.lg.jp,lalert-{doc}-r1,2025-07-10T02:40:00+09:00",)
    info = parsed.primary
    assert info.param("lalert:issueOrLift") == "解除"
    assert info.response_type == (ResponseType.ALL_CLEAR,)
    assert info.event == "避難指示解除"
    assert [a.area_desc for a in info.area] == ["川島地区", "大町地区"]


def test_cancel_references_the_revision_before() -> None:
    order = town_alert()
    cancel = town_alert(
        identifier="anamizu-0003",
        msg_type=MsgType.CANCEL,
        references=(order.reference_key, lift_of(order).reference_key),
        sent=TOWN_SENT + timedelta(hours=4),
        note="誤って発信したため取り消します。",
    )
    parsed = round_trip(cancel, 3)
    doc = document_id(order, PUBLISHER)
    assert parsed.msg_type is MsgType.CANCEL
    assert parsed.identifier == f"lalert-{doc}-r3"
    assert parsed.referenced_identifiers() == (f"lalert-{doc}-r2",)
    assert parsed.note == "誤って発信したため取り消します。"


def test_cancel_without_level_still_withdraws_the_document() -> None:
    order = town_alert()
    cancel = town_alert(level=None, msg_type=MsgType.CANCEL, references=(order.reference_key,), event="取消")
    parsed = round_trip(cancel, 2)
    assert parsed.msg_type is MsgType.CANCEL
    assert parsed.event_key == f"lalert|{document_id(order, PUBLISHER)}"


def test_shelter_opening_round_trip() -> None:
    shelters = (
        district("穴水中学校体育館", circle="37.2335,136.9052 0"),
        district("川島公民館", circle="37.2322,136.9124 0"),
    )
    params = (
        NamedValue(value_name="lalert:shelter.1.capacity", value="300"),
        NamedValue(value_name="lalert:shelter.1.address", value="石川県鳳珠郡穴水町字大町"),
        NamedValue(value_name="lalert:shelter.2.capacity", value="80"),
    )
    alert = town_alert(
        Kind.SHELTER, level=None, areas=shelters, parameters=params, event="避難所開設", response=()
    )
    info = round_trip(alert, 1).primary
    assert info.event_codes(KIND) == (Kind.SHELTER.value,)
    assert info.event == "避難所開設"
    assert [a.area_desc for a in info.area] == ["穴水中学校体育館", "川島公民館"]
    assert info.area[0].circle == ("37.2335,136.9052 0",)
    assert info.param("lalert:shelter.1.status") == "開設"
    assert info.param("lalert:shelter.1.capacity") == "300"
    assert info.param("lalert:shelter.2.capacity") == "80"
    assert info.param("lalert:shelter.1.lat") == "37.2335"
    assert info.param("lalert:shelter.1.address") == "石川県鳳珠郡穴水町字大町"


def test_shelter_closing_round_trip() -> None:
    alert = town_alert(
        Kind.SHELTER,
        level=None,
        areas=(district("川島公民館"),),
        event="避難所閉鎖",
        response=(ResponseType.ALL_CLEAR,),
    )
    info = round_trip(alert, 1).primary
    assert info.event == "避難所閉鎖"
    assert info.param("lalert:shelter.1.status") == "閉鎖"


@pytest.mark.parametrize("status", [Status.EXERCISE, Status.TEST])
def test_drill_status_survives(status: Status) -> None:
    assert round_trip(town_alert(status=status), 1).status is status


def test_numeric_district_code_travels_as_oaza_code() -> None:
    alert = town_alert(areas=(district("川島", code="174610001001"), district("大町", code="omachi")))
    areas = round_trip(alert, 1).primary.area
    assert areas[0].codes(DISTRICT_CODE) == ("174610001001",)
    # A tenant's own district id is not a 大字町丁目コード and is not sent as one.
    assert areas[1].codes(DISTRICT_CODE) == ()


@pytest.mark.parametrize(
    "name", ["anamizu_evacuation_order.xml", "anamizu_evacuation_lift.xml", "anamizu_shelter_open.xml"]
)
def test_parsed_sample_rebuilds_to_the_same_facts(name: str) -> None:
    (original,) = parse_bytes((DATA / name).read_bytes())
    revision = int(original.primary.param("lalert:revision") or "1")
    again = round_trip(original, revision).primary
    for key in (
        LEVEL,
        "lalert:order.1.sort",
        "lalert:order.1.issueOrLift",
        "lalert:order.1.areas",
        "lalert:area.1.households",
        "lalert:area.2.headCount",
        "lalert:households",
        "lalert:shelter.2.capacity",
        "lalert:shelter.1.crowding",
        "lalert:disasterName",
    ):
        assert again.param(key) == original.primary.param(key), key
    assert [(a.area_desc, a.circle, a.codes()) for a in again.area] == [
        (a.area_desc, a.circle, a.codes()) for a in original.primary.area
    ]
    assert again.event == original.primary.event


def test_document_shape() -> None:
    root = etree.fromstring(build_document(lift_of(town_alert()), revision=2, publisher=PUBLISHER))
    ns = {"e": EDXL_DE, "c": COMMONS, "p": PCXML}
    assert root.tag == f"{{{EDXL_DE}}}EDXLDistribution"
    assert root.findtext("e:distributionType", namespaces=ns) == "Update"
    assert root.findtext("c:targetArea/c:jisX0402", namespaces=ns) == "174611"
    content = root.find("c:contentObject", ns)
    assert content is not None
    assert content.findtext("c:category", namespaces=ns) == "EvacuationOrder"
    assert content.findtext("c:documentRevision", namespaces=ns) == "2"
    assert content.findtext("c:previousDocumentRevision", namespaces=ns) == "1"
    report = content.find("e:xmlContent/e:embeddedXMLContent/p:Report", ns)
    assert report is not None
    assert report.findtext("p:Control/p:Title", namespaces=ns) == "EvacuationOrder"
    assert [etree.QName(c).localname for c in report] == ["Control", "Head", "EvacuationOrder"]


def test_same_alert_same_bytes() -> None:
    alert = town_alert()
    assert build_document(alert, revision=1, publisher=PUBLISHER) == build_document(
        alert, revision=1, publisher=PUBLISHER
    )


def test_document_id_is_per_tenant_and_event() -> None:
    alert = town_alert()
    assert document_id(alert, PUBLISHER) == document_id(lift_of(alert), PUBLISHER)
    assert document_id(alert, PUBLISHER) != document_id(alert.for_tenant("wajima"), PUBLISHER)


def test_soap_envelope_parses_to_the_same_alert() -> None:
    alert = town_alert()
    bare = build_document(alert, revision=1, publisher=PUBLISHER)
    soap = envelope(build_element(alert, revision=1, publisher=PUBLISHER).element)
    assert b"soap:Envelope" in soap
    assert b"pcsoap:publish" in soap
    assert parse_bytes(soap) == parse_bytes(bare)


def test_headline_text_can_come_from_the_rendered_message() -> None:
    data = build_document(
        town_alert(), revision=1, publisher=PUBLISHER, headline_text="レンダリング済みの本文"
    )
    (parsed,) = parse_bytes(data)
    assert parsed.primary.description is not None
    assert parsed.primary.description.startswith("レンダリング済みの本文")


def test_unsupported_kind_is_permanent() -> None:
    with pytest.raises(PermanentError, match="evacuation orders and shelters"):
        build_document(town_alert(Kind.EARTHQUAKE), revision=1, publisher=PUBLISHER)


def test_draft_is_never_published() -> None:
    with pytest.raises(PermanentError, match="Draft"):
        build_document(town_alert(status=Status.DRAFT), revision=1, publisher=PUBLISHER)


def test_evacuation_without_level_is_permanent() -> None:
    with pytest.raises(PermanentError, match="level"):
        build_document(town_alert(level=None, event="避難情報"), revision=1, publisher=PUBLISHER)


def test_event_wording_stands_in_for_a_missing_level() -> None:
    info = round_trip(town_alert(level=None, event="緊急安全確保"), 1).primary
    assert info.param(LEVEL) == "5"


@pytest.mark.parametrize(("msg_type", "revision"), [(MsgType.ALERT, 0), (MsgType.CANCEL, 1)])
def test_impossible_revision(msg_type: MsgType, revision: int) -> None:
    refs = ("x,y,2025-07-10T02:40:00+09:00",) if msg_type is MsgType.CANCEL else ()
    with pytest.raises(ValueError, match="revision"):
        build_document(town_alert(msg_type=msg_type, references=refs), revision=revision, publisher=PUBLISHER)


def test_revision_from_references_or_explicit_parameter() -> None:
    order = town_alert()
    lift = lift_of(order)
    cancel = town_alert(msg_type=MsgType.CANCEL, references=(order.reference_key, lift.reference_key))
    assert [revision_for(a) for a in (order, lift, cancel)] == [1, 2, 3]
    explicit = town_alert(parameters=(NamedValue(value_name="lalert:revision", value="7"),))
    assert revision_for(explicit) == 7
