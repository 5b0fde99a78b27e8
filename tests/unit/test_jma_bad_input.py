"""Input the JMA parser must refuse, each with a short reason, and never crash on."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.ingest.jma import parse_bytes
from adapters.ingest.jma.envelope import FUTURE_TOLERANCE
from broadcaster.errors import ParseError

DATA = Path(__file__).resolve().parents[2] / "samples" / "jma"
GOOD = (DATA / "01_vxse51_shindo_sokuho.xml").read_bytes()
JST = timezone(timedelta(hours=9))
RECEIVED = datetime(2024, 1, 1, 16, 12, tzinfo=JST)


def refused(data: bytes, *, received: datetime = RECEIVED) -> str:
    with pytest.raises(ParseError) as info:
        parse_bytes(data, received=received)
    assert info.value.reason
    return info.value.reason


def test_good_sample_is_accepted() -> None:
    assert parse_bytes(GOOD, received=RECEIVED)


def test_malformed_xml() -> None:
    assert refused(GOOD[: len(GOOD) // 2]) == "malformed_xml"
    assert refused(b"<Report") == "malformed_xml"


def test_empty() -> None:
    assert refused(b"") == "empty"
    assert refused(b"   \n") == "empty"


def test_entity_bomb() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/">&lol3;</Report>'
    )
    assert refused(bomb) == "doctype_forbidden"


def test_external_entity() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control><Title>&x;</Title></Control></Report>'
    )
    assert refused(xxe) == "doctype_forbidden"
    # An ENTITY smuggled in after the first few KB is caught as well.
    late = GOOD.replace(b"</Report>", b"<!-- " + b"x" * 8000 + b" --></Report>")
    late = late.replace(b"<Report ", b'<!DOCTYPE Report [<!ENTITY e "e">]><Report ', 1)
    assert refused(late) == "doctype_forbidden"


def test_fifty_megabytes() -> None:
    body = GOOD.replace(b"</Report>", b"<!--" + b"x" * (50 * 1024 * 1024) + b"--></Report>")
    assert refused(body) == "too_large"


def test_wrong_namespace() -> None:
    wrong = GOOD.replace(b"http://xml.kishou.go.jp/jmaxml1/", b"http://example.com/jmaxml1/", 2)
    assert refused(wrong) == "not_jma"


def test_non_jma_root() -> None:
    cap = b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>'
    assert refused(cap) == "not_jma"
    assert refused(b"<Report><Control/></Report>") == "not_jma"


def test_missing_and_unknown_fields() -> None:
    assert refused(GOOD.replace(b"<Status>\xe9\x80\x9a\xe5\xb8\xb8</Status>", b"")) == "missing_field"
    assert refused(GOOD.replace("通常".encode(), "練習".encode(), 1)) == "unknown_status"
    assert refused(GOOD.replace("<InfoType>発表".encode(), "<InfoType>予告".encode())) == "unknown_info_type"
    bad_time = GOOD.replace(b"2024-01-01T16:11:00+09:00", b"2024-01-01 late afternoon")
    assert refused(bad_time) == "bad_datetime"
    naive = GOOD.replace(b"2024-01-01T16:11:00+09:00", b"2024-01-01T16:11:00")
    assert refused(naive) == "bad_datetime"


def test_body_that_contradicts_the_title() -> None:
    volcanic = GOOD.replace(b"body/seismology1/", b"body/volcanology1/")
    assert refused(volcanic) == "body_mismatch"


def test_future_timestamp() -> None:
    # Within the tolerance (clock skew, minute rounding, even a 9-hour time zone mistake): kept.
    assert parse_bytes(GOOD, received=RECEIVED - timedelta(hours=9))
    assert parse_bytes(GOOD, received=RECEIVED - FUTURE_TOLERANCE + timedelta(minutes=1))
    # A day ahead of its reception: refused.
    assert refused(GOOD, received=RECEIVED - timedelta(days=1)) == "future_timestamp"
    far = GOOD.replace(b"2024-01-01T16:11:00+09:00", b"2099-01-01T16:11:00+09:00")
    assert refused(far, received=RECEIVED) == "future_timestamp"


def test_future_timestamp_against_now_when_no_reception_time() -> None:
    far = GOOD.replace(b"2024-01-01T16:11:00+09:00", b"2999-01-01T16:11:00+09:00")
    with pytest.raises(ParseError) as info:
        parse_bytes(far)
    assert info.value.reason == "future_timestamp"


def test_shift_jis_is_refused() -> None:
    sjis = GOOD.decode("utf-8").replace('encoding="UTF-8"', 'encoding="Shift_JIS"').encode("shift_jis")
    assert refused(sjis) == "bad_encoding"


def test_undeclared_non_utf8_and_broken_sequences() -> None:
    undeclared = GOOD.decode("utf-8").replace(' encoding="UTF-8"', "").encode("shift_jis")
    assert refused(undeclared) == "bad_encoding"
    broken = GOOD.replace("震度速報".encode(), b"\xe9\x9c\x87\xff\xfe", 1)
    assert refused(broken) == "bad_encoding"
    utf16 = GOOD.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert refused(utf16) == "bad_encoding"


def test_utf8_bom_is_fine() -> None:
    assert parse_bytes(b"\xef\xbb\xbf" + GOOD, received=RECEIVED)


def test_unknown_title_becomes_a_generic_alert() -> None:
    odd = GOOD.replace("<Title>震度速報</Title>".encode(), "<Title>未知の情報</Title>".encode(), 1)
    alert = parse_bytes(odd, received=RECEIVED)[0]
    assert alert.primary.event == "未知の情報"
    assert alert.primary.event_codes("broadcaster:kind") == ("other",)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(GOOD) - 1), st.binary(min_size=1, max_size=8))
def test_mutations_never_crash(offset: int, junk: bytes) -> None:
    data = GOOD[:offset] + junk + GOOD[offset + len(junk) :]
    reason = ""
    try:
        alerts = parse_bytes(data, received=RECEIVED)
    except ParseError as e:
        reason = e.reason
        alerts = []
    assert len(alerts) == 1 or reason
