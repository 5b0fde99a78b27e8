"""Input the L-Alert parser must refuse, each with its reason code, and never with anything else."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.ingest.lalert import parse_bytes
from broadcaster.errors import ParseError
from tests.fakes.lalert import commons_doc, evacuation_body

DATA = Path(__file__).resolve().parents[2] / "samples" / "lalert"
ORDER = (DATA / "anamizu_evacuation_order.xml").read_bytes()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<edxlde:EDXLDistribution xmlns:edxlde="urn:oasis:names:tc:emergency:EDXL:DE:1.0">&lol3;</edxlde:EDXLDistribution>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<edxlde:EDXLDistribution xmlns:edxlde="urn:oasis:names:tc:emergency:EDXL:DE:1.0">
<edxlde:distributionID>&xxe;</edxlde:distributionID></edxlde:EDXLDistribution>"""

# The entity declared after a BOM and without DOCTYPE in the first bytes still must not pass.
PARAMETER_ENTITY = (
    b"\xef\xbb\xbf" + b" " * 5000 + b'<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1/x">%p;]><d/>'
)

SOAP_WITHOUT_DOCUMENT = b"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
<soap:Body><pcsoap:publish xmlns:pcsoap="http://soap.publiccommons.ne.jp/"/></soap:Body></soap:Envelope>"""

SOAP_WRONG_NAMESPACE = b"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<EDXLDistribution xmlns="urn:example:not-edxl"/></soap:Body></soap:Envelope>"""

PLAIN_EDXL = b"""<edxlde:EDXLDistribution xmlns:edxlde="urn:oasis:names:tc:emergency:EDXL:DE:1.0">
<edxlde:distributionID>x</edxlde:distributionID>
<edxlde:contentObject><edxlde:xmlContent/></edxlde:contentObject></edxlde:EDXLDistribution>"""

NO_CONTENT = b"""<edxlde:EDXLDistribution xmlns:edxlde="urn:oasis:names:tc:emergency:EDXL:DE:1.0">
<edxlde:distributionID>x</edxlde:distributionID></edxlde:EDXLDistribution>"""

NO_REPORT = b"""<edxlde:EDXLDistribution xmlns:edxlde="urn:oasis:names:tc:emergency:EDXL:DE:1.0"
 xmlns:commons="http://xml.publiccommons.ne.jp/xml/edxl/">
<commons:contentObject><commons:documentID>d</commons:documentID></commons:contentObject>
</edxlde:EDXLDistribution>"""

CAP = b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>'

CASES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "empty"),
    "whitespace": (b"  \n\t", "empty"),
    "truncated": (ORDER[: len(ORDER) // 2], "malformed_xml"),
    "not xml": (b"\x00\x01binary\xff", "malformed_xml"),
    "billion laughs": (BILLION_LAUGHS, "doctype_forbidden"),
    "external entity": (XXE, "doctype_forbidden"),
    "late parameter entity": (PARAMETER_ENTITY, "doctype_forbidden"),
    "too large": (b"<a>" + b" " * (5 * 1024 * 1024) + b"</a>", "too_large"),
    "cap document": (CAP, "not_lalert"),
    "edxl-de 2.0": (commons_doc(root_ns="urn:oasis:names:tc:emergency:EDXL:DE:2.0"), "wrong_namespace"),
    "report in a foreign namespace": (commons_doc(report_ns="urn:example:report"), "wrong_namespace"),
    "soap with a foreign distribution": (SOAP_WRONG_NAMESPACE, "wrong_namespace"),
    "soap without a document": (SOAP_WITHOUT_DOCUMENT, "no_distribution"),
    "plain edxl-de content": (PLAIN_EDXL, "not_commons"),
    "no content object": (NO_CONTENT, "no_content"),
    "no report": (NO_REPORT, "no_report"),
    "no document id": (
        commons_doc(doc_id=None).replace(b"<edxlde:distributionID>dist-x</edxlde:distributionID>", b""),
        "missing_document_id",
    ),
    "no time at all": (commons_doc(sent=None), "missing_sent"),
    "unreadable time": (commons_doc(sent="10 July 2025"), "bad_datetime"),
    "no status": (commons_doc(status=None), "missing_status"),
    "unknown status": (commons_doc(status="Rehearsal"), "bad_status"),
    "unknown distribution type": (commons_doc(dist_type="Ack"), "bad_distribution_type"),
    "revision not a number": (commons_doc(revision="two"), "bad_revision"),
    "negative revision": (commons_doc(revision="-1"), "bad_revision"),
    "revisions disagree": (commons_doc(revision="2", head_revision="3"), "revision_conflict"),
    "document ids disagree": (commons_doc(doc_id="a", head_doc_id="b"), "document_id_conflict"),
    "cancel of nothing": (commons_doc(dist_type="Cancel", revision="1"), "cancel_without_previous"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_with_reason(name: str) -> None:
    data, reason = CASES[name]
    with pytest.raises(ParseError) as e:
        parse_bytes(data)
    assert e.value.reason == reason


def test_overlong_district_code_is_dropped_not_trusted() -> None:
    body = evacuation_body(("避難指示", "発令", ("川島地区",))).replace(
        "<commons:areaName>川島地区</commons:areaName>",
        "<commons:areaName>川島地区</commons:areaName><commons:ooAzaTyouTyouMokuCode>"
        + "9" * 200
        + "</commons:ooAzaTyouTyouMokuCode>",
    )
    (alert,) = parse_bytes(commons_doc(body))
    assert alert.primary.area[0].codes("district") == ()


def test_garbage_coordinates_are_ignored() -> None:
    body = evacuation_body(("避難指示", "発令", ("川島地区",))).replace(
        "<pcx_eb:Location>", "<pcx_eb:Location><edxlde:circle>north,east,far</edxlde:circle>"
    )
    (alert,) = parse_bytes(commons_doc(body))
    assert alert.primary.area[0].circle == ()


def _mutations() -> st.SearchStrategy[bytes]:
    cut = st.integers(min_value=0, max_value=len(ORDER))
    return st.one_of(
        st.binary(max_size=2000),
        st.tuples(cut, cut, st.binary(max_size=40)).map(
            lambda t: ORDER[: min(t[:2])] + t[2] + ORDER[max(t[:2]) :]
        ),
    )


def _outcome(data: bytes) -> str:
    """The refusal reason, or "parsed"; any other exception escapes and fails the test."""
    try:
        alerts = parse_bytes(data)
    except ParseError as e:
        return e.reason
    assert all(a.origin == "lalert" for a in alerts)
    return "parsed"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_any_bytes_give_alerts_or_a_parse_error(data: bytes) -> None:
    assert _outcome(data)
