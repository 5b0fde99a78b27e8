"""The details of the mapping: lists, extension codes, kinds, timestamps, the bytes written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

from broadcaster.cap import CAP12, from_cap, infer_kind, join_list, split_list, to_cap
from broadcaster.model import (
    KIND,
    Alert,
    Category,
    Certainty,
    Info,
    Kind,
    MsgType,
    NamedValue,
    Severity,
    Status,
    Urgency,
)

NS = {"cap": CAP12}


def info(event: str = "津波警報", category: Category = Category.GEO, **more: object) -> Info:
    fields: dict[str, object] = {
        "category": (category,),
        "event": event,
        "urgency": Urgency.IMMEDIATE,
        "severity": Severity.EXTREME,
        "certainty": Certainty.OBSERVED,
    }
    return Info.model_validate(fields | more)


def alert(**more: object) -> Alert:
    fields: dict[str, object] = {
        "identifier": "anamizu-2024-0001",
        "sender": "anamizu",
        "sent": datetime(2024, 1, 1, 16, 10, tzinfo=timezone(timedelta(hours=9))),
        "status": Status.ACTUAL,
        "msg_type": MsgType.ALERT,
        "info": (info(),),
        "tenant": "anamizu",
        "event_key": "jma:20240101161000",
        "origin": "jma",
    }
    return Alert.model_validate(fields | more)


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("", []),
        ("a b  c", ["a", "b", "c"]),
        ('"Town Hall" 0123', ["Town Hall", "0123"]),
        ('\t"a b"\n"c"', ["a b", "c"]),
        ('"unterminated here', ["unterminated here"]),
        ('""', [""]),
    ],
)
def test_split_list(text: str, items: list[str]) -> None:
    assert split_list(text) == items


def test_join_list_round_trips_and_refuses_quotes() -> None:
    items = ["Town Hall", "0123", "", "穴水 町"]
    assert split_list(join_list(items)) == items
    with pytest.raises(ValueError, match="double quote"):
        join_list(['say "hi"'])


def test_document_shape() -> None:
    data = to_cap(alert(info=(info(description="大津波警報。ただちに避難。"),)))
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(data)
    assert root.tag == f"{{{CAP12}}}alert"
    assert root.nsmap == {None: CAP12}
    # Japanese is written as UTF-8, not as character references.
    assert "大津波警報".encode() in data
    assert root.findtext("cap:sent", namespaces=NS) == "2024-01-01T16:10:00+09:00"


def test_extension_codes_follow_the_alerts_own() -> None:
    received = datetime(2024, 1, 1, 7, 10, 0, 123456, tzinfo=UTC)
    data = to_cap(alert(code=("IPAWSv1.0", "broadcaster:origin=spoof"), received=received))
    codes = [c.text for c in etree.fromstring(data).findall("cap:code", NS)]
    assert codes == [
        "IPAWSv1.0",
        "broadcaster:code=broadcaster:origin=spoof",
        "broadcaster:origin=jma",
        "broadcaster:event-key=jma:20240101161000",
        "broadcaster:tenant=anamizu",
        "broadcaster:received=2024-01-01T07:10:00.123456+00:00",
    ]
    back = from_cap(data)
    assert back.code == ("IPAWSv1.0", "broadcaster:origin=spoof")
    assert back.received == received


def test_our_own_incidents_are_left_as_they_are() -> None:
    ours = alert(incidents='"Noto 2024" quake-1')
    assert etree.fromstring(to_cap(ours)).findtext("cap:incidents", namespaces=NS) == '"Noto 2024" quake-1'
    assert from_cap(to_cap(ours)).event_key == "jma:20240101161000"


@pytest.mark.parametrize(
    ("msg_type", "references", "incidents", "key"),
    [
        (MsgType.ALERT, (), None, "x-2"),
        (MsgType.UPDATE, ("s,x-1,2024-01-01T16:00:00+09:00", "s,x-0,2024-01-01T15:00:00+09:00"), None, "x-1"),
        (MsgType.CANCEL, ("s,x-1,2024-01-01T16:00:00+09:00",), '"Noto 2024" other', "Noto 2024"),
        (MsgType.CANCEL, ("malformed",), None, "x-2"),
    ],
)
def test_foreign_event_key(
    msg_type: MsgType, references: tuple[str, ...], incidents: str | None, key: str
) -> None:
    parsed = from_cap(
        _foreign(alert(identifier="x-2", msg_type=msg_type, references=references, incidents=incidents))
    )
    assert parsed.event_key == key
    assert (parsed.origin, parsed.tenant, parsed.received) == ("cap", None, None)


def test_foreign_kind_is_added_once_and_never_to_our_own() -> None:
    ours = alert(info=(info(event="お知らせ", category=Category.OTHER),))
    assert from_cap(to_cap(ours)).info[0].event_code == ()

    assert from_cap(_foreign(ours)).info[0].event_codes(KIND) == ("other",)

    tagged = alert(info=(info(event_code=(NamedValue(value_name=KIND, value="notice"),)),))
    assert from_cap(_foreign(tagged)).info[0].event_codes(KIND) == ("notice",)


@pytest.mark.parametrize(
    ("infos", "kind"),
    [
        ([info("緊急地震速報（警報）")], Kind.EEW),
        ([info("Tsunami Warning")], Kind.TSUNAMI),
        ([info("震源・震度に関する情報")], Kind.EARTHQUAKE),
        ([info("大雨特別警報", Category.MET)], Kind.SPECIAL_WARNING),
        ([info("避難所開設", Category.SAFETY)], Kind.SHELTER),
        ([info("避難指示", Category.SAFETY)], Kind.EVACUATION),
        ([info("Blizzard Warning", Category.MET)], Kind.WEATHER_WARNING),
        (
            [info("Civil Danger", Category.SAFETY, event_code=(NamedValue(value_name="SAME", value="EVI"),))],
            Kind.EVACUATION,
        ),
        ([info("Child Abduction", Category.RESCUE)], Kind.OTHER),
        ([info("Alerta", Category.GEO, language="es"), info("Volcano Warning", language="en")], Kind.VOLCANO),
    ],
)
def test_infer_kind(infos: list[Info], kind: Kind) -> None:
    assert infer_kind(infos) == kind


def test_times_are_written_to_the_second_with_a_numeric_offset() -> None:
    sent = datetime(2024, 1, 1, 7, 10, 0, 999999, tzinfo=UTC)
    root = etree.fromstring(to_cap(alert(sent=sent)))
    assert root.findtext("cap:sent", namespaces=NS) == "2024-01-01T07:10:00-00:00"


@pytest.mark.parametrize(
    "offset",
    [timedelta(hours=9, seconds=30), timedelta(hours=15), timedelta(hours=-23, minutes=-59)],
)
def test_offsets_cap_cannot_write_become_utc_at_the_same_instant(offset: timedelta) -> None:
    sent = datetime(2024, 6, 1, 12, 0, tzinfo=timezone(offset))
    ours = alert(sent=sent)
    data = to_cap(ours)
    assert etree.fromstring(data).findtext("cap:sent", namespaces=NS).endswith("-00:00")  # type: ignore[union-attr]
    assert from_cap(data) == ours


def test_decimal_numbers_without_exponent() -> None:
    ours = alert(info=(info(area=({"area_desc": "沖合", "altitude": 1e-07, "ceiling": 2.5e20},)),))
    data = to_cap(ours)
    assert b"<altitude>0.0000001</altitude>" in data
    assert b"<ceiling>250000000000000000000</ceiling>" in data
    assert from_cap(data) == ours


def test_carriage_returns_and_markup_survive() -> None:
    ours = alert(
        note="line 1\r\nline 2\r<b>&amp;</b> ]]>", info=(info(description="  leading and trailing  "),)
    )
    assert from_cap(to_cap(ours)) == ours


def _foreign(ours: Alert) -> etree._Element:
    root = etree.fromstring(to_cap(ours))
    for code in root.findall("cap:code", NS):
        root.remove(code)  # nothing marks it as ours any more
    return root


def test_foreign_japanese_block_comes_first_ours_keep_their_order() -> None:
    ours = alert(info=(info("Tsunami Warning", language="en-US"), info("津波警報", language="ja")))
    assert [i.language for i in from_cap(to_cap(ours)).info] == ["en-US", "ja"]
    assert [i.language for i in from_cap(_foreign(ours)).info] == ["ja", "en-US"]


def test_end_of_day_is_the_next_midnight() -> None:
    root = _foreign(alert())
    sent = root.find("cap:sent", NS)
    assert sent is not None
    sent.text = "2024-12-31T24:00:00+09:00"
    assert from_cap(root).sent == datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=9)))
