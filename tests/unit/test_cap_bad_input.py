"""Input that must be refused, each with a reason the quarantine can show; and what to_cap refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from broadcaster.cap import CapEncodeError, from_cap, to_cap
from broadcaster.errors import ParseError, PermanentError
from broadcaster.model import Alert, Area, Category, Certainty, Info, MsgType, Severity, Status, Urgency

HEAD = (
    "<identifier>x-1</identifier><sender>s@example.jp</sender><sent>2024-01-01T16:10:00+09:00</sent>"
    "<status>Actual</status><msgType>Alert</msgType><scope>Public</scope>"
)
INFO = (
    "<info><category>Geo</category><event>地震</event><urgency>Immediate</urgency>"
    "<severity>Severe</severity><certainty>Observed</certainty></info>"
)


def cap(body: str = HEAD + INFO, ns: str = "urn:oasis:names:tc:emergency:cap:1.2") -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><alert xmlns="{ns}">{body}</alert>'.encode()


def test_the_minimal_document_is_fine() -> None:
    alert = from_cap(cap())
    assert alert.identifier == "x-1"
    assert alert.info[0].language == "en-US"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;</identifier></alert>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""


def _swap(old: str, new: str) -> bytes:
    assert old in HEAD + INFO
    return cap((HEAD + INFO).replace(old, new))


CASES: list[tuple[str, bytes, str]] = [
    ("malformed", cap()[:-9], "malformed_xml"),
    ("empty", b"  \n", "empty"),
    ("not xml", b"\x00\x01binary", "malformed_xml"),
    ("entity bomb", BILLION_LAUGHS, "doctype_forbidden"),
    ("external entity", XXE, "doctype_forbidden"),
    ("wrong namespace", cap(ns="urn:example:not-cap"), "not_cap"),
    ("no namespace", cap().replace(b' xmlns="urn:oasis:names:tc:emergency:cap:1.2"', b""), "not_cap"),
    ("CAP 1.0", cap(ns="http://www.incident.com/cap/1.0"), "unsupported_cap_version"),
    ("JMA telegram", b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>', "not_cap"),
    ("missing identifier", _swap("<identifier>x-1</identifier>", ""), "missing_element"),
    ("missing sent", _swap("<sent>2024-01-01T16:10:00+09:00</sent>", ""), "missing_element"),
    ("missing scope", _swap("<scope>Public</scope>", ""), "missing_element"),
    ("missing category", _swap("<category>Geo</category>", ""), "missing_element"),
    ("missing event", _swap("<event>地震</event>", ""), "missing_element"),
    ("missing certainty", _swap("<certainty>Observed</certainty>", ""), "missing_element"),
    ("bad status", _swap("<status>Actual", "<status>Real"), "bad_enumeration"),
    ("bad msgType", _swap("<msgType>Alert", "<msgType>Warning"), "bad_enumeration"),
    ("bad category", _swap("<category>Geo", "<category>Quake"), "bad_enumeration"),
    ("lower-case severity", _swap("<severity>Severe", "<severity>severe"), "bad_enumeration"),
    ("no offset", _swap("16:10:00+09:00", "16:10:00"), "bad_datetime"),
    ("not a time", _swap("2024-01-01T16:10:00+09:00", "yesterday"), "bad_datetime"),
    ("repeated identifier", _swap("<sender>", "<identifier>x-2</identifier><sender>"), "repeated_element"),
    ("space in identifier", _swap("x-1", "x 1"), "invalid_alert"),
    ("update without references", _swap("<msgType>Alert", "<msgType>Update"), "invalid_alert"),
    ("restricted without restriction", _swap("<scope>Public", "<scope>Restricted"), "invalid_alert"),
    (
        "bad size",
        _swap(
            "</certainty>",
            "</certainty><resource><resourceDesc>a</resourceDesc><mimeType>m</mimeType><size>1_0</size></resource>",
        ),
        "bad_value",
    ),
    (
        "resource without mimeType",
        _swap("</certainty>", "</certainty><resource><resourceDesc>a</resourceDesc></resource>"),
        "missing_element",
    ),
    (
        "bad altitude",
        _swap("</certainty>", "</certainty><area><areaDesc>a</areaDesc><altitude>nan</altitude></area>"),
        "bad_value",
    ),
    (
        "geocode without value",
        _swap("</certainty>", "</certainty><eventCode><valueName>a</valueName></eventCode>"),
        "missing_element",
    ),
    (
        "extension twice",
        _swap(
            "<scope>Public</scope>",
            "<scope>Public</scope><code>broadcaster:origin=a</code><code>broadcaster:origin=b</code>",
        ),
        "bad_extension",
    ),
    (
        "extension without origin",
        _swap("<scope>Public</scope>", "<scope>Public</scope><code>broadcaster:tenant=anamizu</code>"),
        "bad_extension",
    ),
    (
        "bad received",
        _swap(
            "<scope>Public</scope>",
            "<scope>Public</scope><code>broadcaster:origin=jma</code><code>broadcaster:received=soon</code>",
        ),
        "bad_extension",
    ),
    ("too large", cap(HEAD + "<note>" + "x" * (6 * 1024 * 1024) + "</note>" + INFO), "too_large"),
]


@pytest.mark.parametrize(("data", "reason"), [(d, r) for _, d, r in CASES], ids=[n for n, _, _ in CASES])
def test_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        from_cap(data)
    assert caught.value.reason == reason
    assert not caught.value.retriable


def test_leniency_that_loses_nothing_cap_can_carry() -> None:
    # White space around tokens, "Z" and fractional seconds from careless senders. The fraction
    # is dropped: the model, like CAP, holds whole seconds.
    alert = from_cap(
        _swap("<status>Actual", "<status> Actual\n").replace(b"16:10:00+09:00", b"07:10:00.250Z")
    )
    assert alert.status is Status.ACTUAL
    assert alert.sent == datetime(2024, 1, 1, 7, 10, 0, tzinfo=UTC)


def test_cap_1_1_resource_without_mime_type() -> None:
    body = (HEAD + INFO).replace(
        "</certainty>", "</certainty><resource><resourceDesc>a</resourceDesc></resource>"
    )
    (resource,) = from_cap(cap(body, ns="urn:oasis:names:tc:emergency:cap:1.1")).info[0].resource
    assert resource.mime_type == "application/octet-stream"


def test_foreign_duplicate_language_keeps_the_first() -> None:
    second = INFO.replace("地震", "second")
    alert = from_cap(cap(HEAD + INFO + second))
    assert [i.event for i in alert.info] == ["地震"]


def _alert(**info: object) -> Alert:
    base: dict[str, object] = {
        "category": (Category.GEO,),
        "event": "地震",
        "urgency": Urgency.IMMEDIATE,
        "severity": Severity.SEVERE,
        "certainty": Certainty.OBSERVED,
    }
    return Alert(
        identifier="a-1",
        sender="anamizu",
        sent=datetime(2024, 1, 1, 7, 10, tzinfo=UTC),
        status=Status.ACTUAL,
        msg_type=MsgType.ALERT,
        info=(Info.model_validate(base | info),),
        event_key="k",
        origin="manual",
    )


def _with_language(tag: str) -> Alert:
    alert = _alert()
    return alert.model_copy(update={"info": (alert.info[0].model_copy(update={"language": tag}),)})


@pytest.mark.parametrize(
    ("alert", "why"),
    [
        # The model refuses these tags already; to_cap checks again for alerts built unvalidated.
        (_with_language("日本語"), "language"),
        (_with_language(""), "language"),
        (_alert(description="bell \x07"), "XML compatible"),
        (_alert(area=(Area(area_desc="a", altitude=float("nan")),)), "xs:decimal"),
        (
            _alert().model_copy(
                update={"msg_type": MsgType.CANCEL, "references": ("s,a 0,2024-01-01T00:00:00+09:00",)}
            ),
            "reference",
        ),
        (_alert().model_copy(update={"references": ("",)}), "reference"),
    ],
)
def test_to_cap_refuses_what_cap_cannot_express(alert: Alert, why: str) -> None:
    with pytest.raises(CapEncodeError, match=why) as caught:
        to_cap(alert)
    assert isinstance(caught.value, PermanentError)
