"""Input the J-Alert parser refuses, each with its reason (what the quarantine shows)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.ingest.jalert import JAlertParser
from broadcaster.errors import ParseError
from broadcaster.model import RawEvent
from broadcaster.pipeline.normalize import Refused, parse
from broadcaster.pipeline.runtime import load_parsers

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "jalert"

GOOD = (
    "format = jalert/1\nid = m-1\nsent = 2025-07-10T07:00:00+09:00\nstatus = actual\ncategory = missile\n"
    "stage = launch\nareas = 石川県\n"
)


def _reason(body: bytes, tenant: str | None = None) -> str:
    with pytest.raises(ParseError) as e:
        JAlertParser().parse(RawEvent(source="jalert", body=body, tenant=tenant, submitted_by="test"))
    return e.value.reason


def _without(name: str) -> bytes:
    return "".join(line + "\n" for line in GOOD.splitlines() if not line.startswith(name + " ")).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"format = jalert/1\n" + b"x" * 300_000, "too_large"),
        (b"\xff\xfe\x00\x81\xff" * 10, "bad_encoding"),
        (GOOD.replace("jalert/1", "jalert/2").encode(), "not_jalert"),
        (b"id = m-1\nstatus = actual\n", "not_jalert"),
        (_without("id"), "missing_id"),
        (_without("sent"), "missing_sent"),
        (_without("status"), "missing_status"),
        (_without("category"), "missing_category"),
        (GOOD.replace("status = actual", "status = real").encode(), "bad_status"),
        (GOOD.replace("category = missile", "category = meteor").encode(), "bad_category"),
        (GOOD.replace("stage = launch", "stage = wobble").encode(), "bad_stage"),
        (GOOD.replace("2025-07-10T07:00:00+09:00", "yesterday").encode(), "bad_datetime"),
        (GOOD.replace("id = m-1", "id = has space").encode(), "bad_id"),
        (GOOD.replace("id = m-1", "id = a,b").encode(), "bad_id"),
        ((GOOD + "status = test\n").encode(), "duplicate_field"),
        ((GOOD + "this line has no equals sign\n").encode(), "malformed_line"),
        (("  folded first\n" + GOOD).encode(), "malformed_line"),
        ((GOOD + "msgtype = cancel\n").encode(), "cancel_without_reference"),
        ((GOOD + "msgtype = update\n").encode(), "update_without_reference"),
        ((GOOD + "msgtype = shout\nevent = m-0\n").encode(), "bad_msgtype"),
        (GOOD.replace("stage = launch", "stage = ").encode(), "missing_text"),
        (GOOD.replace("areas = 石川県", "areas = どこか村").encode(), "no_known_area"),
        (_without("areas"), "no_known_area"),
        # Found by the coverage-guided fuzzer: a mangled code raised ValueError, not ParseError.
        (
            b'{"format": "jalert/1", "id": "m-1", "sent": "2025-07-10T07:00:00+09:00", "status": "actual",'
            b' "category": "missile", "stage": "launch", "areas": [{"code": "1700["}]}',
            "no_known_area",
        ),
        (b'{"format": "jalert/1", "id": "m-1", ', "malformed_json"),
        (b'{"format": "jalert/1", "id": {"nested": 1}}', "bad_field"),
        (b'{"format": "jalert/1", "areas": [[1]]}', "bad_field"),
        (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'/>", "not_jalert"),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><Report xmlns="http://xml.kishou.go.jp/jmaxml1/">&a;</Report>',
            "doctype_forbidden",
        ),
    ],
)
def test_refusals(body: bytes, reason: str) -> None:
    assert _reason(body) == reason


def test_the_bad_sample_is_refused_for_its_missing_status() -> None:
    assert _reason((SAMPLES / "bad_no_status.txt").read_bytes()) == "missing_status"


def test_through_normalize_a_refusal_becomes_a_quarantine_reason() -> None:
    raw = RawEvent(source="jalert", body=_without("status"), submitted_by="jalert-bridge:rx")
    result = parse(raw, load_parsers())
    assert isinstance(result, Refused)
    assert (result.reason, result.detail) == ("missing_status", "jalert: the message has no status")
