"""CapParser: CAP from outside, bare or in an Atom feed or an EDXL-DE distribution."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.ingest.cap import CapParser
from broadcaster.cap import from_cap, to_cap
from broadcaster.errors import ParseError
from broadcaster.model import (
    JST,
    KIND,
    Alert,
    Category,
    Certainty,
    Info,
    MsgType,
    RawEvent,
    Severity,
    Status,
    Urgency,
)
from broadcaster.parsing import SourceParser

RECEIVED = datetime(2024, 1, 1, 7, 10, 5, 123456, tzinfo=UTC)
ALERT = (
    '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>{id}</identifier>'
    "<sender>wajima@example.jp</sender><sent>2024-01-01T16:10:00+09:00</sent><status>Actual</status>"
    "<msgType>Alert</msgType><scope>Public</scope><info><language>ja-JP</language><category>Geo</category>"
    "<event>津波警報</event><urgency>Immediate</urgency><severity>Extreme</severity>"
    "<certainty>Observed</certainty></info></alert>"
)


def raw(
    body: bytes, source: str = "cap", tenant: str | None = None, content_type: str = "application/xml"
) -> RawEvent:
    return RawEvent(
        source=source,
        body=body,
        tenant=tenant,
        received=RECEIVED,
        content_type=content_type,
        submitted_by="feed:wajima",
    )


def test_is_a_source_parser() -> None:
    assert isinstance(CapParser(), SourceParser)
    assert CapParser.name == "cap"


def test_bare_cap_for_a_tenant() -> None:
    (alert,) = CapParser().parse(raw(ALERT.format(id="w-1").encode(), tenant="anamizu"))
    assert (alert.identifier, alert.tenant, alert.origin, alert.received) == (
        "w-1",
        "anamizu",
        "cap",
        RECEIVED,
    )
    assert alert.event_key == "w-1"
    assert alert.primary.event_codes(KIND) == ("tsunami",)


def test_shared_source_leaves_tenant_open() -> None:
    (alert,) = CapParser().parse(raw(ALERT.format(id="w-1").encode()))
    assert alert.tenant is None


def test_cap_1_1(corpus: Path) -> None:
    body = (corpus / "cap" / "examples" / "nws-5c2cf27b1f56885d61654dc47fa411d5.xml").read_bytes()
    (alert,) = CapParser().parse(raw(body))
    assert alert.primary.event == "Blizzard Warning"


def test_another_broadcasters_cap_is_ingested_as_ours_would_be() -> None:
    theirs = Alert(
        identifier="wajima-1",
        sender="wajima",
        sent=datetime(2024, 1, 1, 16, 10, tzinfo=JST),
        status=Status.ACTUAL,
        msg_type=MsgType.ALERT,
        info=(
            Info(
                category=(Category.GEO,),
                event="津波警報",
                urgency=Urgency.IMMEDIATE,
                severity=Severity.EXTREME,
                certainty=Certainty.OBSERVED,
            ),
        ),
        tenant="wajima",
        event_key="jma:20240101161000",
        origin="jma",
        received=datetime(2024, 1, 1, 7, 10, 1, tzinfo=UTC),
    )
    (alert,) = CapParser().parse(raw(to_cap(theirs), tenant="anamizu"))
    # Their tenant and origin describe their installation; their event key still ties their updates.
    assert (alert.tenant, alert.origin, alert.received) == ("anamizu", "cap", RECEIVED)
    assert alert.event_key == "jma:20240101161000"
    assert alert.info == theirs.info  # no second kind added
    assert from_cap(to_cap(theirs)) == theirs


ATOM = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Oku-Noto alerts</title><id>urn:uuid:feed</id><updated>2024-01-01T07:10:00Z</updated>
  <entry><id>urn:uuid:1</id><title>1</title><updated>2024-01-01T07:10:00Z</updated>
    <content type="application/cap+xml">{a}</content></entry>
  <entry><id>urn:uuid:2</id><title>2</title><updated>2024-01-01T07:11:00Z</updated>
    <content type="application/cap+xml">{b}</content></entry>
</feed>"""


def test_atom_feed_with_embedded_cap() -> None:
    body = ATOM.format(a=ALERT.format(id="w-1"), b=ALERT.format(id="w-2")).encode()
    parser = CapParser()
    event = raw(body, source="feed")
    assert parser.accepts(event)
    assert [a.identifier for a in parser.parse(event)] == ["w-1", "w-2"]


def test_atom_entry_with_embedded_cap() -> None:
    entry = (
        '<entry xmlns="http://www.w3.org/2005/Atom"><id>urn:uuid:1</id>'
        f'<content type="text/xml">{ALERT.format(id="w-3")}</content></entry>'
    )
    assert [a.identifier for a in CapParser().parse(raw(entry.encode()))] == ["w-3"]


def test_atom_entry_that_only_links_to_cap_is_refused() -> None:
    entry = (
        '<entry xmlns="http://www.w3.org/2005/Atom"><id>urn:uuid:1</id>'
        '<link rel="alternate" type="application/cap+xml" href="https://example.jp/1.xml"/></entry>'
    )
    with pytest.raises(ParseError) as caught:
        CapParser().parse(raw(entry.encode()))
    assert caught.value.reason == "no_cap_content"


def test_edxl_de_with_embedded_cap() -> None:
    body = (
        '<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0">'
        "<distributionID>d-1</distributionID><senderID>wajima</senderID>"
        "<dateTimeSent>2024-01-01T16:10:00+09:00</dateTimeSent><distributionStatus>Actual</distributionStatus>"
        "<distributionType>Report</distributionType><combinedConfidentiality>U</combinedConfidentiality>"
        "<contentObject><xmlContent><embeddedXMLContent>"
        f"{ALERT.format(id='w-4')}"
        "</embeddedXMLContent></xmlContent></contentObject></EDXLDistribution>"
    ).encode()
    event = raw(body, source="file")
    assert CapParser().accepts(event)
    assert [a.identifier for a in CapParser().parse(event)] == ["w-4"]


def test_accepts_by_source_content_type_or_namespace() -> None:
    parser = CapParser()
    assert parser.accepts(raw(b"anything", source="cap"))
    assert parser.accepts(raw(b"<x/>", source="file", content_type="application/cap+xml; charset=utf-8"))
    assert parser.accepts(raw(ALERT.format(id="a").encode(), source="file"))
    assert not parser.accepts(raw(b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>', source="jma"))


def test_leaves_jma_feeds_and_l_alert_to_their_parsers(corpus: Path) -> None:
    parser = CapParser()
    for path in [*sorted((corpus / "jma_feed").glob("*.xml")), *sorted((corpus / "lalert").rglob("*.xml"))]:
        assert not parser.accepts(raw(path.read_bytes(), source="file")), path.name


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<alert", "malformed_xml"),
        (b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>', "not_cap"),
        (b'<alert xmlns="http://www.incident.com/cap/1.0"/>', "unsupported_cap_version"),
        (b'<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0"/>', "no_cap_content"),
        (ALERT.format(id="w 1").encode(), "invalid_alert"),
    ],
)
def test_refusals(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        CapParser().parse(raw(body))
    assert caught.value.reason == reason
