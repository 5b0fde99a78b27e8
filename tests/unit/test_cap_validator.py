"""The structural validator says what the OASIS schema says, on valid and broken documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.cap import validate_cap
from broadcaster.errors import ConfigError

CAP = "urn:oasis:names:tc:emergency:cap:1.2"
HEAD = (
    "<identifier>x-1</identifier><sender>s</sender><sent>2024-01-01T16:10:00+09:00</sent>"
    "<status>Actual</status><msgType>Alert</msgType><scope>Public</scope>"
)
INFO = (
    "<info><language>ja-JP</language><category>Geo</category><event>地震</event>"
    "<urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>"
    "<area><areaDesc>穴水町</areaDesc><geocode><valueName>JIS X 0402</valueName><value>174611</value></geocode>"
    "</area></info>"
)
SIGNATURE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI=""><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
    "<ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    "<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"
)


def doc(body: str = HEAD + INFO, ns: str = CAP) -> bytes:
    return f'<alert xmlns="{ns}">{body}</alert>'.encode()


def swap(old: str, new: str) -> bytes:
    body = HEAD + INFO
    assert old in body
    return doc(body.replace(old, new, 1))


VALID: dict[str, bytes] = {
    "minimal": doc(HEAD),
    "with info": doc(),
    "utc as -00:00": swap("+09:00", "-00:00"),
    "end of day 24:00:00": swap("16:10:00", "24:00:00"),
    "offset +14:00": swap("+09:00", "+14:00"),
    "leap day": swap("2024-01-01", "2024-02-29"),
    "white space around a dateTime": swap("2024-01-01T16:10:00+09:00", "\n 2024-01-01T16:10:00+09:00 "),
    "empty language takes the default": swap("ja-JP", ""),
    "all optional alert elements": swap(
        "<scope>Public</scope>",
        "<source>s</source><scope>Restricted</scope><restriction>r</restriction><addresses>a</addresses>"
        "<code>c1</code><code>c2</code><note>n</note><references>s,x-0,2024-01-01T16:00:00+09:00</references>"
        "<incidents>i</incidents>",
    ),
    "resource": swap(
        "<area>",
        "<resource><resourceDesc>r</resourceDesc><mimeType>audio/mpeg</mimeType><size>+12</size>"
        "<uri>https://example.jp/a.mp3</uri><derefUri>AAAA</derefUri><digest>d</digest></resource><area>",
    ),
    "area numbers": swap("</geocode>", "</geocode><altitude>-.5</altitude><ceiling> 100. </ceiling>"),
    "polygon and circle": swap(
        "<geocode>", "<polygon>1,1 1,2 2,2 1,1</polygon><circle>37.2,136.9 10</circle><geocode>"
    ),
    "two infos": doc(HEAD + INFO + INFO.replace("ja-JP", "en-US")),
    "signature": doc(HEAD + INFO + SIGNATURE),
    "schemaLocation": doc(HEAD).replace(
        b"<alert ",
        b'<alert xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="x y" ',
    ),
}

BROKEN: dict[str, bytes] = {
    "empty": b"",
    "malformed": doc()[:-3],
    "doctype": b'<!DOCTYPE alert [<!ENTITY e "x">]>' + doc(),
    "wrong namespace": doc(ns="urn:example"),
    "CAP 1.1": doc(ns="urn:oasis:names:tc:emergency:cap:1.1"),
    "missing identifier": swap("<identifier>x-1</identifier>", ""),
    "missing scope": swap("<scope>Public</scope>", ""),
    "missing category": swap("<category>Geo</category>", ""),
    "missing areaDesc": swap("<areaDesc>穴水町</areaDesc>", ""),
    "missing value": swap("<value>174611</value>", ""),
    "sender after sent": doc(
        HEAD.replace("<sender>s</sender>", "").replace("</sent>", "</sent><sender>s</sender>")
    ),
    "repeated note": swap("<scope>Public</scope>", "<scope>Public</scope><note>a</note><note>b</note>"),
    "unknown element": swap("<scope>Public</scope>", "<scope>Public</scope><priority>1</priority>"),
    "foreign element": swap("<scope>Public</scope>", '<scope>Public</scope><x:a xmlns:x="urn:x"/>'),
    "bad status": swap("Actual", "Real"),
    "padded status": swap("Actual", " Actual"),
    "bad responseType": swap("<urgency>", "<responseType>Leave</responseType><urgency>"),
    "Z": swap("+09:00", "Z"),
    "fraction": swap("16:10:00", "16:10:00.5"),
    "no offset": swap("+09:00", ""),
    "offset +14:30": swap("+09:00", "+14:30"),
    "comma offset": swap("+09:00", ",09:00"),
    "February 30": swap("2024-01-01", "2024-02-30"),
    "February 29 of 2023": swap("2024-01-01", "2023-02-29"),
    "hour 25": swap("16:10:00", "25:10:00"),
    "24:00:01": swap("16:10:00", "24:00:01"),
    "year 0000": swap("2024-01-01", "0000-01-01"),
    "language": swap("ja-JP", "日本語"),
    "language too long": swap("ja-JP", "japanese1"),
    "size": swap(
        "<area>",
        "<resource><resourceDesc>r</resourceDesc><mimeType>m</mimeType><size>1.0</size></resource><area>",
    ),
    "resource without mimeType": swap("<area>", "<resource><resourceDesc>r</resourceDesc></resource><area>"),
    "altitude with exponent": swap("</geocode>", "</geocode><altitude>1e3</altitude>"),
    "ceiling without altitude is fine but twice is not": swap(
        "</geocode>", "</geocode><ceiling>1</ceiling><ceiling>2</ceiling>"
    ),
    "attribute": swap("<identifier>", '<identifier lang="ja">'),
    "text between elements": swap("<sender>", "oops<sender>"),
    "element inside text": swap("<identifier>x-1", "<identifier>x-1<b/>"),
    "signature before info": doc(HEAD + SIGNATURE + INFO),
    "signature placeholder": doc(
        HEAD + '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">...</Signature>'
    ),
}


@pytest.fixture(scope="session")
def xsd(corpus: Path) -> Path:
    return corpus / "cap" / "schema" / "CAP-v1.2.xsd"


@pytest.mark.parametrize("data", VALID.values(), ids=VALID.keys())
def test_valid_for_both(data: bytes, xsd: Path) -> None:
    assert validate_cap(data, xsd) == []
    assert validate_cap(data) == []


@pytest.mark.parametrize("data", BROKEN.values(), ids=BROKEN.keys())
def test_broken_for_both(data: bytes, xsd: Path) -> None:
    assert validate_cap(data, xsd) != []
    assert validate_cap(data) != []


def test_corpus_examples_agree(corpus: Path, xsd: Path) -> None:
    for path in sorted((corpus / "cap" / "examples").glob("*.xml")):
        data = path.read_bytes()
        assert bool(validate_cap(data)) == bool(validate_cap(data, xsd)), path.name


def test_errors_say_where() -> None:
    (error,) = validate_cap(swap("Actual", "Real"))
    assert error.startswith("alert/status:")
    assert "Real" in error


def test_a_schema_that_cannot_be_loaded_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        validate_cap(doc(), tmp_path / "missing.xsd")
    broken = tmp_path / "broken.xsd"
    broken.write_text("<schema")
    with pytest.raises(ConfigError):
        validate_cap(doc(), broken)
