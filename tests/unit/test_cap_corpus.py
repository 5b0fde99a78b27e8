"""Real CAP from the corpus: OASIS Appendix A, IPAWS, NWS (CAP 1.1) and Google Public Alerts."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest

from broadcaster.cap import from_cap, to_cap, validate_cap
from broadcaster.model import KIND, Category, MsgType, ResponseType, Severity, Status


@pytest.fixture(scope="session")
def examples(corpus: Path) -> Path:
    return corpus / "cap" / "examples"


@pytest.fixture(scope="session")
def xsd(corpus: Path) -> Path:
    return corpus / "cap" / "schema" / "CAP-v1.2.xsd"


def _names(corpus: Path) -> list[str]:
    return sorted(p.name for p in (corpus / "cap" / "examples").glob("*.xml"))


EXAMPLES = [
    "google-PAAQ-4-mg5a94.xml",
    "ipaws-5e6dd964023f1930ef638846.xml",
    "ipaws-5e6dd9de023f1930ef6548d9.xml",
    "ipaws-5e6ddbad023f1930ef6c1a5a.xml",
    "ipaws-5e7e0fc5023f1930efcf3deb.xml",
    "ipaws-5ea321f39fc226a7b44b6874.xml",
    "nws-5c2cf27b1f56885d61654dc47fa411d5.xml",
    "v1dot2_appendix_adot1.xml",
    "v1dot2_appendix_adot2.xml",
    "v1dot2_appendix_adot3.xml",
    "v1dot2_appendix_adot4.xml",
]


def test_the_list_covers_the_corpus(corpus: Path) -> None:
    assert _names(corpus) == EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_parses_reserializes_valid_and_round_trips(
    name: str, examples: Path, xsd: Path
) -> None:
    alert = from_cap((examples / name).read_bytes())
    assert alert.origin == "cap"
    assert alert.tenant is None
    assert alert.sent.utcoffset() is not None
    for info in alert.info:
        assert len(info.event_codes(KIND)) == 1
    data = to_cap(alert)
    assert validate_cap(data, xsd) == []
    assert validate_cap(data) == []
    assert from_cap(data) == alert


def test_appendix_a1_homeland_security(examples: Path) -> None:
    alert = from_cap((examples / "v1dot2_appendix_adot1.xml").read_bytes())
    assert (alert.identifier, alert.sender, alert.status, alert.msg_type) == (
        "43b080713727",
        "hsas@dhs.gov",
        Status.ACTUAL,
        MsgType.ALERT,
    )
    assert alert.sent.utcoffset() == timedelta(hours=-5)
    (info,) = alert.info
    assert info.language == "en-US"  # absent: CAP's default
    assert info.category == (Category.SECURITY,)
    assert info.param("HSAS") == "ORANGE"
    assert info.resource[0].uri == "http://www.dhs.gov/dhspublic/getAdvisoryImage"
    assert info.area[0].area_desc == "U.S. nationwide and interests worldwide"
    assert info.event_codes(KIND) == ("other",)


def test_appendix_a2_thunderstorm_polygon_and_geocodes(examples: Path) -> None:
    (info,) = from_cap((examples / "v1dot2_appendix_adot2.xml").read_bytes()).info
    assert info.response_type == (ResponseType.SHELTER,)
    assert info.event_codes("SAME") == ("SVR",)
    assert info.expires is not None
    assert info.expires.isoformat() == "2003-06-17T16:00:00-07:00"
    (area,) = info.area
    assert area.polygon == ("38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14",)
    assert area.codes("SAME") == ("006109", "006009", "006003")
    assert info.event_codes(KIND) == ("weather_warning",)


def test_appendix_a3_earthquake_update_references_and_circle(examples: Path) -> None:
    alert = from_cap((examples / "v1dot2_appendix_adot3.xml").read_bytes())
    assert alert.msg_type is MsgType.UPDATE
    assert alert.references == ("trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00",)
    assert alert.referenced_identifiers() == ("TRI13970876.1",)
    # An update shares the key of the message it updates.
    assert alert.event_key == "TRI13970876.1"
    (info,) = alert.info
    assert [p.value_name for p in info.parameter] == ["EventID", "Version", "Magnitude", "Depth", "Quality"]
    assert info.area[0].circle == ("32.9525,-115.5527 0",)
    assert info.event_codes(KIND) == ("earthquake",)


def test_appendix_a4_two_languages(examples: Path) -> None:
    alert = from_cap((examples / "v1dot2_appendix_adot4.xml").read_bytes())
    assert alert.source == "SW"
    assert [i.language for i in alert.info] == ["en-US", "es-US"]
    assert alert.info_for("es") is alert.info[1]
    assert alert.info[1].event == "Abducción de Niño"
    assert alert.info[1].area[0].codes("SAME") == ("006037",)


def test_google_tsunami_update_with_incidents_and_utc(examples: Path) -> None:
    alert = from_cap((examples / "google-PAAQ-4-mg5a94.xml").read_bytes())
    assert alert.code == ("IPAWSv1.0",)
    assert len(alert.references) == 3
    assert alert.referenced_identifiers() == ("PAAQ-1-mg5a94", "PAAQ-2-mg5a94", "PAAQ-3-mg5a94")
    assert alert.incidents == "mg5a94"
    assert alert.event_key == "mg5a94"  # the incident wins over the referenced identifier
    assert alert.sent.utcoffset() == timedelta(0)  # written -00:00
    (info,) = alert.info
    assert info.event_codes(KIND) == ("tsunami",)
    assert info.param("NWSUGC") == "BCZ220-210-922-912-921-911-110-AKZ026>029-023-024-019>022-025-051258-"
    assert info.area[0].circle == ("55.3,-134.9 0.0",)
    # Re-serialized, UTC is still written the CAP way.
    assert b"<sent>2013-01-05T10:58:23-00:00</sent>" in to_cap(alert)


def test_ipaws_cancel_without_info_keys_on_the_cancelled_message(examples: Path) -> None:
    alert = from_cap((examples / "ipaws-5e6dd9de023f1930ef6548d9.xml").read_bytes())
    assert alert.msg_type is MsgType.CANCEL
    assert alert.info == ()
    assert alert.event_key == "AS-NV-e18921c7-1b35-4a81-9705-42d25c265ddd"


def test_ipaws_audio_resource_and_empty_elements(examples: Path) -> None:
    alert = from_cap((examples / "ipaws-5e6ddbad023f1930ef6c1a5a.xml").read_bytes())
    # Present but empty is "", absent is None.
    assert (alert.source, alert.addresses, alert.note, alert.restriction) == ("", "", "", None)
    (info,) = alert.info
    assert (info.audience, info.instruction, info.web) == ("", "", "")
    (resource,) = info.resource
    assert (resource.mime_type, resource.size, resource.uri) == ("audio/x-ipaws-audio-mp3", 98865, "")
    assert resource.digest == "b2fdc4f478c30b5245579853366923ccfb666ab5"
    assert resource.deref_uri is not None
    # The base64 is kept as written; it decodes to the MP3 (frame sync 0xFFFB). IPAWS's size and
    # digest describe its own source file, not these bytes, so they are carried, not checked.
    audio = base64.b64decode(resource.deref_uri, validate=False)
    assert audio[:2] == b"\xff\xfb"
    assert info.severity is Severity.SEVERE


def test_nws_cap_1_1(examples: Path) -> None:
    alert = from_cap((examples / "nws-5c2cf27b1f56885d61654dc47fa411d5.xml").read_bytes())
    assert alert.identifier.endswith(".5c2cf27b1f56885d61654dc47fa411d5")
    (info,) = alert.info
    assert info.language == "en-US"
    assert info.event == "Blizzard Warning"
    assert info.param("WMOHEADER") == ""
    assert info.area[0].polygon == ("",)
    assert info.area[0].codes("UGC") == ("MNZ020", "MNZ021")
    assert info.event_codes(KIND) == ("weather_warning",)
