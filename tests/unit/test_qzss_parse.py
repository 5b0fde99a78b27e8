"""QZSS 災危通報 messages (built by the project's encoder from the documented bit layouts) decoded by
the package and turned into Alerts; damaged and foreign input refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.ingest.qzss import QzssParser
from adapters.ingest.qzss import encode as e
from adapters.ingest.qzss import vocabulary as v
from broadcaster.errors import ParseError
from broadcaster.model import JIS_X0402, KIND, MsgType, RawEvent, ResponseType, Severity, Status

QUAKE = datetime(2024, 1, 1, 7, 10, tzinfo=UTC)  # 16:10 JST
HEARD = QUAKE + timedelta(minutes=13)


def _raw(body: bytes | str, *, at: datetime = HEARD, ref: str | None = None) -> RawEvent:
    data = body.encode() if isinstance(body, str) else body
    return RawEvent(source="qzss", body=data, received=at, submitted_by="test", source_ref=ref)


def _alert(msg: e.Dcr | e.Dcx, *, ubx: bool = False):
    wire = e.ubx_sfrbx(msg.message()) if ubx else e.nmea(msg.message()).encode()
    (alert,) = QzssParser().parse(_raw(wire))
    return alert


def _geocodes(alert) -> set[tuple[str, str]]:
    return {(g.value_name, g.value) for a in alert.primary.area for g in a.geocode}


def test_tsunami_warning_names_the_towns_coast_with_its_grade_and_is_a_relay() -> None:
    msg = e.tsunami(
        QUAKE + timedelta(minutes=12),
        4,
        [e.TsunamiRegion(360, 6), e.TsunamiRegion(484, 5, QUAKE + timedelta(minutes=30))],
    )
    alert = _alert(msg)
    info = alert.primary
    assert (alert.status, alert.msg_type, alert.origin) == (Status.ACTUAL, MsgType.ALERT, "qzss")
    assert alert.sent == QUAKE + timedelta(minutes=12)
    assert info.event_codes(KIND) == ("tsunami",)
    assert info.event == "大津波警報" and info.severity is Severity.EXTREME
    assert info.response_type == (ResponseType.EVACUATE,)
    assert _geocodes(alert) == {("津波予報区", "360"), ("津波予報区", "484")}
    assert info.param(v.RELAY_PARAM) == v.RELAY_DCR
    # The JMA adapter's per-area form, so the rules read the town's own grade.
    areas = [p.value for p in info.parameter if p.value_name == "tsunamiArea"]
    assert any(a.startswith("360|石川県能登|4|大津波警報|") for a in areas)
    assert "10m超" in (info.description or "") and "16時40分" in (info.description or "")


def test_the_same_message_by_nmea_and_by_ubx_from_any_satellite_is_one_alert() -> None:
    msg = e.seismic_intensity(QUAKE + timedelta(minutes=2), QUAKE, [(6, 17), (5, 16)])
    by_nmea = _alert(msg)
    by_ubx = _alert(msg, ubx=True)
    other_sat = QzssParser().parse(_raw(e.nmea(msg.message(), satellite_id=56)))[0]
    other_preamble = _alert(e.seismic_intensity(QUAKE + timedelta(minutes=2), QUAKE, [(6, 17), (5, 16)], preamble=0xC6))
    assert by_nmea.identifier == by_ubx.identifier == other_sat.identifier == other_preamble.identifier
    assert by_nmea.event_key == by_ubx.event_key
    assert by_nmea.primary.param("maxIntensity") == "6強"
    assert {p.value for p in by_nmea.primary.parameter if p.value_name == "prefIntensity"} == {
        "17|石川県|6強",
        "16|富山県|6弱",
    }
    assert _geocodes(by_nmea) == {("地震情報／都道府県等", "17"), ("地震情報／都道府県等", "16")}


def test_eew_reaches_prefectures_by_their_codes() -> None:
    alert = _alert(
        e.eew(QUAKE, QUAKE, epicenter=390, depth_km=10, magnitude_tenths=76, lower=7, upper=8, regions=[22, 21])
    )
    assert alert.primary.event_codes(KIND) == ("eew",)
    assert _geocodes(alert) == {(JIS_X0402, "170003"), (JIS_X0402, "160008")}
    assert "石川県能登地方" in (alert.primary.description or "")


def test_training_report_is_an_exercise_with_its_own_event_key() -> None:
    real = _alert(e.seismic_intensity(QUAKE, QUAKE, [(6, 17)]))
    drill = _alert(e.seismic_intensity(QUAKE, QUAKE, [(6, 17)], classification=e.REPORT_TRAINING))
    assert drill.status is Status.EXERCISE and real.status is Status.ACTUAL
    assert drill.identifier != real.identifier and drill.event_key != real.event_key


def test_correction_and_cancellation_follow_the_event() -> None:
    issue = _alert(e.seismic_intensity(QUAKE, QUAKE, [(6, 17)]))
    cancel = _alert(e.seismic_intensity(QUAKE, QUAKE, [(6, 17)], info_type=e.CANCELLATION))
    fix = _alert(e.seismic_intensity(QUAKE, QUAKE, [(5, 17)], info_type=e.CORRECTION))
    assert cancel.msg_type is MsgType.CANCEL and fix.msg_type is MsgType.UPDATE
    assert cancel.event_key == fix.event_key == issue.event_key
    assert cancel.references and cancel.primary.response_type == (ResponseType.ALL_CLEAR,)
    assert cancel.primary.headline.endswith("（取消）")


def test_special_warning_lifted_is_an_update_that_clears() -> None:
    issued = _alert(e.weather(QUAKE, 1, [(2, 170000)]))
    lifted = _alert(e.weather(QUAKE + timedelta(hours=6), 2, [(2, 170000)]))
    assert issued.primary.event_codes(KIND) == ("special_warning",) and issued.msg_type is MsgType.ALERT
    assert issued.primary.severity is Severity.EXTREME
    assert lifted.msg_type is MsgType.UPDATE and lifted.primary.response_type == (ResponseType.ALL_CLEAR,)
    assert lifted.event_key == issued.event_key
    assert _geocodes(issued) == {("気象情報／府県予報区・細分区域等", "170000")}


def test_dcx_jalert_missile_carries_the_stage_and_the_governments_text() -> None:
    alert = _alert(e.Dcx(provider=e.A3_FDMA, hazard=8, instruction=132, prefectures=(16, 15)))
    info = alert.primary
    assert info.event_codes(KIND) == ("missile",) and info.param("missileStage") == "take_cover"
    assert info.headline == "直ちに避難" and info.severity is Severity.EXTREME
    assert "直ちに建物の中" in (info.description or "")
    assert _geocodes(alert) == {(JIS_X0402, "170003"), (JIS_X0402, "160008")}
    assert info.param(v.RELAY_PARAM) == v.RELAY_DCX
    passed = _alert(e.Dcx(provider=e.A3_FDMA, hazard=8, instruction=129, prefectures=(16,)))
    assert passed.msg_type is MsgType.UPDATE and passed.primary.response_type == (ResponseType.ALL_CLEAR,)


def test_dcx_jalert_for_municipalities_and_its_test_message() -> None:
    alert = _alert(e.Dcx(provider=e.A3_FDMA, hazard=8, instruction=128, municipalities=(17461, 17204)))
    assert _geocodes(alert) == {(JIS_X0402, "174611"), (JIS_X0402, "172049")}
    test = _alert(e.Dcx(provider=e.A3_FDMA, hazard=113, instruction=136, prefectures=(16,)))
    assert test.status is Status.TEST


def test_dcx_lalert_evacuation_for_one_town() -> None:
    alert = _alert(e.Dcx(provider=e.A3_LALERT, hazard=68, instruction=514, area=17461))
    info = alert.primary
    assert info.event_codes(KIND) == ("evacuation",)
    assert _geocodes(alert) == {(JIS_X0402, "174611")}
    assert info.response_type == (ResponseType.EVACUATE,) and "3階以上" in (info.description or "")


def test_dcx_identity_takes_the_time_first_heard() -> None:
    msg = e.Dcx(provider=e.A3_FDMA, hazard=8, instruction=128, prefectures=(16,)).message()
    first = QzssParser().parse(_raw(e.nmea(msg), ref="dcx:abc@1"))[0]
    again = QzssParser().parse(_raw(e.nmea(msg), ref="dcx:abc@1", at=HEARD + timedelta(seconds=8)))[0]
    next_week = QzssParser().parse(_raw(e.nmea(msg), ref="dcx:abc@400"))[0]
    assert first.identifier == again.identifier != next_week.identifier


def test_null_message_is_no_alert() -> None:
    null = e.Dcx(provider=0, hazard=0, instruction=0).message()
    bits = bytearray(null)
    # A2 (Japan) stays set in a null message; every other field is zero.
    assert QzssParser().parse(_raw(e.nmea(bytes(bits)))) == []


def _flip(sentence: str, index: int) -> str:
    body, _, _ = sentence.partition("*")
    chars = list(body)
    chars[index] = "0" if chars[index] != "0" else "1"
    body = "".join(chars)
    checksum = 0
    for ch in body[1:]:
        checksum ^= ord(ch)
    return f"{body}*{checksum:02X}"


def _resum(sentence: str) -> str:
    body = sentence.partition("*")[0]
    checksum = 0
    for ch in body[1:]:
        checksum ^= ord(ch)
    return f"{body}*{checksum:02X}"


GOOD = e.nmea(e.seismic_intensity(QUAKE, QUAKE, [(6, 17)]).message())


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (_flip(GOOD, 30), "CRC"),
        (GOOD[:-3] + "*00", "Checksum"),
        (GOOD[:40], "Short"),
        (_resum(GOOD.replace("$QZQSM,55", "$QZQSM,5X")), "Satellite"),
        (e.nmea(e.Dcr(category=7, report_time=QUAKE).message()), "Category"),
    ],
)
def test_damaged_messages_are_refused_with_the_packages_reason(body: str, why: str) -> None:
    with pytest.raises(ParseError) as err:
        QzssParser().parse(_raw(body))
    assert err.value.reason == "qzss_invalid"
    assert why.lower() in (err.value.detail or "").lower()


def test_damaged_ubx_frame_is_refused() -> None:
    frame = bytearray(e.ubx_sfrbx(e.seismic_intensity(QUAKE, QUAKE, [(6, 17)]).message()))
    frame[20] ^= 0x10
    with pytest.raises(ParseError, match=r"Checksum|CRC"):
        QzssParser().parse(_raw(bytes(frame)))


def test_parser_accepts_only_receiver_messages() -> None:
    parser = QzssParser()
    assert parser.accepts(RawEvent(source="file", body=GOOD.encode(), submitted_by="t"))
    assert not parser.accepts(RawEvent(source="file", body=b"<Report/>", submitted_by="t"))
    with pytest.raises(ParseError) as err:
        parser.parse(RawEvent(source="qzss", body=b"hello", submitted_by="t"))
    assert err.value.reason == "not_qzss"


def test_dcr_names_the_jma_title_it_relays() -> None:
    alert = _alert(e.seismic_intensity(QUAKE, QUAKE, [(6, 17)]))
    assert alert.primary.event_codes("jma:title") == ("震度速報",)
