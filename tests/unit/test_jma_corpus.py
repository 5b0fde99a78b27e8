"""Every official JMA sample telegram: parsed (or refused with a reason), with the envelope facts
checked against values read independently with plain lxml and against the corpus INDEX.tsv."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

from adapters.ingest.jma import parse_bytes
from broadcaster import areacodes
from broadcaster.errors import ParseError
from broadcaster.model import JIS_X0402, KIND, Alert, MsgType, Status

J = "{http://xml.kishou.go.jp/jmaxml1/}"
IB = "{http://xml.kishou.go.jp/jmaxml1/informationBasis1/}"
CITY = "気象・地震・火山情報／市町村等"
MSG_TYPES = {"発表": MsgType.ALERT, "訂正": MsgType.UPDATE, "取消": MsgType.CANCEL}
STATUSES = {"通常": Status.ACTUAL, "訓練": Status.EXERCISE, "試験": Status.TEST}
# Known telegram → the corpus telegram it corrects or cancels, named exactly.
EXACT_PAIRS = {
    "01_01_02_091210_VGSK50.xml": "01_01_01_091210_VGSK50.xml",
    "01_01_03_091210_VGSK50.xml": "01_01_01_091210_VGSK50.xml",
    "06_04_02_200826_VPTI50.xml": "06_04_01_200826_VPTI50.xml",
    "32-35_06_06_100915_VXSE53.xml": "32-35_06_05_240613_VXSE53.xml",
    "37_01_03_240613_VXSE43.xml": "37_01_02_240613_VXSE43.xml",
    "36_01_33_240613_VXSE44.xml": "36_01_32_240613_VXSE44.xml",
    "77_01_33_240613_VXSE45.xml": "77_01_32_240613_VXSE45.xml",
}


@dataclass(frozen=True)
class Plain:
    """What plain lxml reads from a telegram, without the parser's code."""

    title: str
    status: str
    info_type: str
    event_id: str
    report_datetime: datetime
    city_codes_in_head: frozenset[str]
    all_codes: frozenset[str]


def read_plain(data: bytes) -> Plain:
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    head = root.find(f"{IB}Head")
    assert head is not None
    city_codes = {
        code.text or ""
        for areas in head.iter(f"{IB}Areas")
        if areas.get("codeType") == CITY
        for code in areas.iter(f"{IB}Code")
    }
    all_codes = {
        (el.text or "").strip()
        for el in root.iter()
        if isinstance(el.tag, str) and etree.QName(el).localname in ("Code", "CityCode")
    }
    return Plain(
        title=root.findtext(f"{J}Control/{J}Title") or "",
        status=root.findtext(f"{J}Control/{J}Status") or "",
        info_type=head.findtext(f"{IB}InfoType") or "",
        event_id=(head.findtext(f"{IB}EventID") or "").strip(),
        report_datetime=datetime.fromisoformat(head.findtext(f"{IB}ReportDateTime") or ""),
        city_codes_in_head=frozenset(city_codes),
        all_codes=frozenset(all_codes),
    )


@pytest.fixture(scope="module")
def samples(corpus: Path) -> list[Path]:
    files = sorted((corpus / "jma" / "official_samples").glob("*.xml"))
    assert len(files) >= 400
    return files


@pytest.fixture(scope="module")
def parsed(samples: list[Path]) -> dict[str, Alert | ParseError]:
    out: dict[str, Alert | ParseError] = {}
    for path in samples:
        try:
            alerts = parse_bytes(path.read_bytes())
        except ParseError as e:
            out[path.name] = e
            continue
        assert len(alerts) == 1, path.name
        out[path.name] = alerts[0]
    return out


@pytest.fixture(scope="module")
def index(corpus: Path) -> dict[str, dict[str, str]]:
    with (corpus / "jma" / "INDEX.tsv").open(encoding="utf-8", newline="") as f:
        return {Path(row["path"]).name: row for row in csv.DictReader(f, delimiter="\t")}


def test_every_sample_parses_or_is_refused_with_a_reason(parsed: dict[str, Alert | ParseError]) -> None:
    refused = {name: e.reason for name, e in parsed.items() if isinstance(e, ParseError)}
    assert all(reason for reason in refused.values())
    # The official samples are all well-formed, current telegrams: none is refused.
    assert refused == {}


def test_envelope_matches_plain_lxml(samples: list[Path], parsed: dict[str, Alert | ParseError]) -> None:
    for path in samples:
        alert = parsed[path.name]
        assert isinstance(alert, Alert)
        plain = read_plain(path.read_bytes())
        info = alert.primary
        assert alert.msg_type is MSG_TYPES[plain.info_type], path.name
        assert alert.status is STATUSES[plain.status], path.name
        assert alert.sent == plain.report_datetime, path.name
        assert info.effective == plain.report_datetime
        assert info.event_codes("jma:title") == (plain.title,), path.name
        assert info.param("eventId") == (plain.event_id or None), path.name
        assert len(info.event_codes(KIND)) == 1
        if plain.event_id:
            assert alert.event_key.endswith(f"{plain.title}|{plain.event_id}"), path.name


def test_envelope_matches_index(
    parsed: dict[str, Alert | ParseError], index: dict[str, dict[str, str]]
) -> None:
    assert set(index) == set(parsed)
    for name, row in index.items():
        alert = parsed[name]
        assert isinstance(alert, Alert)
        assert alert.primary.event_codes("jma:title") == (row["Control/Title"],), name
        assert alert.primary.headline == row["Head/Title"], name
        assert alert.msg_type is MSG_TYPES[row["InfoType"]], name
        assert alert.status is STATUSES[row["Status"]], name
        assert alert.primary.param("editorialOffice") == row["EditorialOffice"], name


def test_areas_are_the_telegrams_own(samples: list[Path], parsed: dict[str, Alert | ParseError]) -> None:
    """No invented area; every town the head names is an area of the alert.

    National and regional information adds the prefectures it covers, under their JIS X 0402
    codes (docs/jma.md, *National and regional information*): those are the only areas the
    telegram does not write itself."""
    for path in samples:
        alert = parsed[path.name]
        assert isinstance(alert, Alert)
        plain = read_plain(path.read_bytes())
        codes = {g.value for a in alert.primary.area for g in a.geocode if g.value_name != JIS_X0402}
        assert codes <= plain.all_codes, path.name
        prefectures = {g.value for a in alert.primary.area for g in a.geocode if g.value_name == JIS_X0402}
        assert all(areacodes.prefecture_of(c) == c for c in prefectures), path.name
        if alert.msg_type is not MsgType.CANCEL:
            towns = set(alert.primary.area and [c for a in alert.primary.area for c in a.codes(CITY)])
            assert plain.city_codes_in_head <= towns, path.name


def test_cancels_and_corrections_reference_their_original(parsed: dict[str, Alert | ParseError]) -> None:
    for name, original_name in EXACT_PAIRS.items():
        follow_up, original = parsed[name], parsed[original_name]
        assert isinstance(follow_up, Alert)
        assert isinstance(original, Alert)
        assert follow_up.primary.param("referenceScope") == "exact"
        assert follow_up.referenced_identifiers() == (original.identifier,), name
        assert follow_up.event_key == original.event_key, name
    for name, alert in parsed.items():
        assert isinstance(alert, Alert)
        if alert.msg_type is MsgType.ALERT:
            assert alert.references == ()
            continue
        assert len(alert.references) == 1, name
        assert alert.primary.param("referenceScope") in ("exact", "latestOfEvent"), name
        assert alert.referenced_identifiers()[0] != alert.identifier


def test_known_types_get_their_kind(
    parsed: dict[str, Alert | ParseError], index: dict[str, dict[str, str]]
) -> None:
    expected = {
        "VXSE51": "earthquake",
        "VXSE53": "earthquake",
        "VXSE62": "earthquake",
        "VXSE43": "eew",
        "VTSE41": "tsunami",
        "VTSE51": "tsunami",
        "VXWW50": "landslide",
        "VPOA50": "heavy_rain",
        "VPHW50": "tornado",
        "VPHW51": "tornado",
        "VXKOii": "flood",
        "VFVO50": "volcano",
        "VFVO56": "volcano",
        "VPTW60": "typhoon",
        "VGSK50": "other",
    }
    for name, row in index.items():
        kind = expected.get(row["type_code(from filename)"])
        alert = parsed[name]
        if kind is not None and isinstance(alert, Alert):
            assert alert.primary.event_codes(KIND) == (kind,), name


def test_special_warnings_are_extreme(parsed: dict[str, Alert | ParseError]) -> None:
    special = [
        a
        for a in parsed.values()
        if isinstance(a, Alert) and a.primary.event_codes(KIND) == ("special_warning",)
    ]
    assert special
    for alert in special:
        assert alert.primary.severity.value == "Extreme"
        assert alert.primary.event.endswith("特別警報")
