"""Every L-Alert sample of the shared corpus, with what it must yield (or why it is refused).

Eight LGDIS files are blank templates (every id, time and status empty): an Alert needs an
identifier and a send time, so they are refused with missing_document_id; filled in, each template
parses to its category's kind (test_filled_templates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.ingest.lalert import LAlertParser, parse_bytes
from broadcaster.errors import ParseError
from broadcaster.model import (
    DISTRICT_CODE,
    JIS_X0402,
    KIND,
    LEVEL,
    Certainty,
    Kind,
    MsgType,
    RawEvent,
    Severity,
    Status,
    Urgency,
)


@dataclass(frozen=True)
class Expect:
    identifier: str
    status: Status = Status.ACTUAL
    msg_type: MsgType = MsgType.ALERT
    kind: Kind = Kind.EVACUATION
    level: str | None = None
    sender: str = ""
    event: str = "避難情報"
    areas: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (areaDesc, geocode values) of the first areas
    params: dict[str, str] = field(default_factory=dict)


KAKOGAWA_DOC = "7e573043-fc3c-4a6b-bdb8-a9608233b0af"
BLANK_TEMPLATES = (
    "lgdis/commons_damage_information.xml",
    "lgdis/commons_disaster_response_headquarters.xml",
    "lgdis/commons_evacuation.xml",
    "lgdis/commons_event_announcements.xml",
    "lgdis/commons_events.xml",
    "lgdis/commons_sample.xml",
    "lgdis/commons_shelter.xml",
    "lgdis/commons_urgent_mail.xml",
)
REFUSED = {
    "lgdis/atom_with_georss.xml": "not_lalert",
    **dict.fromkeys(BLANK_TEMPLATES, "missing_document_id"),
}
PARSED = {
    # Revision 0 with distributionType Update: no earlier edition exists, so it is a first alert.
    "lgdis/adsoltestbest.xml": Expect(
        identifier=f"lalert-{KAKOGAWA_DOC}-r0",
        level="3",
        sender="editor.city.kakogawa.hyogo.jp",
        event="高齢者等避難",
        areas=(("地域2", ("282103",)), ("地区名称1", ("282103",)), ("地区名称03", ("282103",))),
        params={
            "lalert:order.1.sort": "避難準備",
            "lalert:order.1.issueOrLift": "発令",
            "lalert:order.1.households": "1000",
            "lalert:area.1.headCount": "2700",
            "lalert:households": "3000",
            "lalert:headCount": "8100",
            "lalert:issueOrLift": "発令",
            "lalert:disasterName": "救援物資管理",
            "lalert:revision": "0",
        },
    ),
    # No document id: the distribution id stands in; no revision: the first.
    "lgdis/commons_evacuation_takamiSample.xml": Expect(
        identifier="lalert-d9dc9fde-5bdb-49e2-be8d-4dcf654fe783-r1",
        sender="editor.city.kakogawa.hyogo.jp",
        areas=(("加古川市", ("282103",)),),
    ),
    "publiccommons-py/sample1.xml": Expect(
        identifier=f"lalert-{KAKOGAWA_DOC}-r1", sender="jisx0402:282103", areas=(("加古川市", ("282103",)),)
    ),
    "publiccommons-py/sample2.xml": Expect(
        identifier=f"lalert-{KAKOGAWA_DOC}-r1", sender="jisx0402:282103", areas=(("加古川市", ("282103",)),)
    ),
    # Head in the informationBasis4 namespace under an odd prefix.
    "publiccommons-py/sample3.xml": Expect(
        identifier=f"lalert-{KAKOGAWA_DOC}-r1", sender="jisx0402:282103", areas=(("加古川市", ("282103",)),)
    ),
    # No code anywhere: the area is only a name, the sender only "lalert".
    "publiccommons-py/sample4.xml": Expect(
        identifier=f"lalert-{KAKOGAWA_DOC}-r1", sender="lalert", areas=(("Test Area", ()),)
    ),
    # The headline area has only the code; the target area lends its name.
    "publiccommons-py/sample5.xml": Expect(
        identifier=f"lalert-{KAKOGAWA_DOC}-r1", sender="jisx0402:282103", areas=(("Test Area", ("282103",)),)
    ),
    # The SOAP publish envelope; a test transmission of 避難準備 for twelve 丁目 with their codes.
    "publiccommons-py/soap1.xml": Expect(
        identifier="lalert-74ee219a-970d-417f-a9ab-a9ff1d3fe316-r1",
        status=Status.TEST,
        level="3",
        sender="editor.foo.test",
        event="高齢者等避難",
        areas=(("一ツ橋一丁目", ("131016", "131010001001")), ("一ツ橋二丁目", ("131016", "131010001002"))),
        params={"lalert:order.1.sort": "避難準備", "lalert:disasterName": "試験災害"},
    ),
}


def test_table_covers_the_whole_corpus(corpus: Path) -> None:
    on_disk = {p.relative_to(corpus / "lalert").as_posix() for p in (corpus / "lalert").rglob("*.xml")}
    assert on_disk == set(PARSED) | set(REFUSED)


@pytest.mark.parametrize("name", sorted(PARSED))
def test_corpus_sample_parses(corpus: Path, name: str) -> None:
    expect = PARSED[name]
    (alert,) = parse_bytes((corpus / "lalert" / name).read_bytes())
    info = alert.primary
    assert alert.identifier == expect.identifier
    assert alert.event_key == "lalert|" + expect.identifier.removeprefix("lalert-").rsplit("-r", 1)[0]
    assert alert.status is expect.status
    assert alert.msg_type is expect.msg_type
    assert alert.references == ()
    assert alert.origin == "lalert"
    assert alert.tenant is None
    assert alert.sender == expect.sender
    assert info.event_codes(KIND) == (expect.kind.value,)
    assert info.event_codes("lalert:category") == ("EvacuationOrder",)
    assert info.param(LEVEL) == expect.level
    assert info.event == expect.event
    got_areas = tuple((a.area_desc, a.codes()) for a in info.area[: len(expect.areas)])
    assert got_areas == expect.areas
    for key, value in expect.params.items():
        assert info.param(key) == value, key


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_corpus_sample_refused_with_reason(corpus: Path, name: str) -> None:
    with pytest.raises(ParseError) as e:
        parse_bytes((corpus / "lalert" / name).read_bytes())
    assert e.value.reason == REFUSED[name]


def test_soap_sample_details(corpus: Path) -> None:
    (alert,) = parse_bytes((corpus / "lalert/publiccommons-py/soap1.xml").read_bytes())
    info = alert.primary
    assert len(info.area) == 12
    first = info.area[0]
    assert first.codes(JIS_X0402) == ("131016",)
    assert first.codes(DISTRICT_CODE) == ("131010001001",)
    assert first.circle == ("35.691634,139.756685 0",)
    # The sender's own CAP-style grading in the trailer wins over the derived one.
    assert (info.urgency, info.severity, info.certainty) == (
        Urgency.FUTURE,
        Severity.SEVERE,
        Certainty.OBSERVED,
    )
    assert info.expires is not None
    assert info.expires.isoformat() == "2013-04-12T18:56:00+09:00"
    assert info.sender_name == "東京都千代田区"
    assert (info.param("lalert:order.1.areas") or "").startswith("一ツ橋一丁目、一ツ橋二丁目、猿楽町一丁目")


def test_old_sample_keeps_reason_and_notes_the_missing_revision(corpus: Path) -> None:
    (alert,) = parse_bytes((corpus / "lalert/lgdis/adsoltestbest.xml").read_bytes())
    assert alert.note is not None
    assert "Update" in alert.note
    assert alert.primary.description is not None
    assert "避難判断水位" in alert.primary.description  # edxlde:incidentDescription
    assert alert.primary.contact == "079-427-9399"
    assert alert.primary.sender_name == "加古川市"


FILLED_KINDS = {
    "lgdis/commons_damage_information.xml": (Kind.DAMAGE, "DamageInformation"),
    "lgdis/commons_disaster_response_headquarters.xml": (Kind.HEADQUARTERS, "AntidisasterHeadquarter"),
    "lgdis/commons_evacuation.xml": (Kind.EVACUATION, "EvacuationOrder"),
    "lgdis/commons_event_announcements.xml": (Kind.NOTICE, "GeneralInformation"),
    "lgdis/commons_events.xml": (Kind.NOTICE, "Event"),
    "lgdis/commons_sample.xml": (Kind.EVACUATION, "EvacuationOrder"),
    "lgdis/commons_shelter.xml": (Kind.SHELTER, "Shelter"),
    "lgdis/commons_urgent_mail.xml": (Kind.OTHER, "UrgentMail"),
}


@pytest.mark.parametrize("name", BLANK_TEMPLATES)
def test_filled_templates(corpus: Path, name: str) -> None:
    data = (corpus / "lalert" / name).read_bytes()
    for tag, value in (
        ("distributionID", "filled-0001"),
        ("dateTimeSent", "2025-07-10T02:40:00+09:00"),
        ("distributionStatus", "Exercise"),
    ):
        data = data.replace(
            f"<edxlde:{tag}></edxlde:{tag}>".encode(), f"<edxlde:{tag}>{value}</edxlde:{tag}>".encode()
        )
    (alert,) = parse_bytes(data)
    kind, category = FILLED_KINDS[name]
    assert alert.primary.event_codes(KIND) == (kind.value,)
    assert alert.primary.event_codes("lalert:category") == (category,)
    assert alert.identifier == "lalert-filled-0001-r1"
    assert alert.status is Status.EXERCISE


@pytest.mark.parametrize("name", sorted(PARSED))
def test_parser_accepts_corpus_documents_by_content(corpus: Path, name: str) -> None:
    raw = RawEvent(source="file", body=(corpus / "lalert" / name).read_bytes(), submitted_by="test")
    assert LAlertParser().accepts(raw)
