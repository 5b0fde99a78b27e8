"""The facts of each type, checked on the project's own sample telegrams (samples/jma)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.ingest.jma import JmaParser, parse_bytes
from adapters.ingest.jma.areas import expand_city
from broadcaster.model import (
    KIND,
    LEVEL,
    Alert,
    Certainty,
    Info,
    Kind,
    MsgType,
    RawEvent,
    Severity,
    Status,
    Urgency,
)
from broadcaster.parsing import SourceParser

DATA = Path(__file__).resolve().parents[2] / "samples" / "jma"
JST = timezone(timedelta(hours=9))
ANAMIZU = "1746100"


def load(name: str) -> Alert:
    alerts = parse_bytes((DATA / name).read_bytes())
    assert len(alerts) == 1
    return alerts[0]


def params(info: Info, name: str) -> list[str]:
    return [p.value for p in info.parameter if p.value_name == name]


def covers(alert: Alert, city: str) -> bool:
    """Whether the area matcher would give this alert to the town (any geocode in common)."""
    wanted = {(g.value_name, g.value) for g in expand_city(city)}
    return any((g.value_name, g.value) in wanted for a in alert.primary.area for g in a.geocode)


def test_every_sample_parses_to_one_alert_with_common_fields() -> None:
    files = sorted(DATA.glob("*.xml"))
    assert len(files) >= 14
    for path in files:
        alert = load(path.name)
        info = alert.primary
        assert alert.sender == "jma.go.jp"
        assert alert.origin == "jma"
        assert alert.tenant is None
        assert alert.identifier.startswith("jma-")
        assert alert.identifier.isascii()
        assert alert.event_key.startswith("jma|")
        assert alert.sent.utcoffset() == timedelta(hours=9)
        assert len(alert.info) == 1
        assert info.language == "ja-JP"
        assert len(info.event_codes(KIND)) == 1
        assert info.event_codes("jma:title")


def test_shindo_sokuho_areas_and_max_intensity() -> None:
    alert = load("01_vxse51_shindo_sokuho.xml")
    info = alert.primary
    assert info.event_codes(KIND) == (Kind.EARTHQUAKE.value,)
    assert info.param("maxIntensity") == "7"
    assert "390|石川県能登|7" in params(info, "areaIntensity")
    assert "370|新潟県上越|5+" in params(info, "areaIntensity")
    assert next(a.codes("地震情報／細分区域") for a in info.area) == ("390",)
    assert (info.severity, info.urgency, info.certainty) == (
        Severity.EXTREME,
        Urgency.IMMEDIATE,
        Certainty.OBSERVED,
    )
    assert alert.sent == datetime(2024, 1, 1, 16, 11, tzinfo=JST)
    assert alert.status is Status.ACTUAL
    assert alert.msg_type is MsgType.ALERT
    assert covers(alert, ANAMIZU)


def test_hypocentre_and_town_intensities() -> None:
    info = load("03_vxse53_shingen_shindo.xml").primary
    assert info.param("magnitude") == "7.6"
    assert info.param("magnitudeType") == "Mj"
    assert info.param("hypocenterName") == "石川県能登地方"
    assert info.param("hypocenterDepthKm") == "10"
    assert (info.param("hypocenterLatitude"), info.param("hypocenterLongitude")) == ("37.5", "137.3")
    assert info.param("originTime") == "2024-01-01T16:10:00+09:00"
    assert info.param("maxIntensity") == "7"
    assert "1746100|穴水町|6+" in params(info, "cityIntensity")
    assert "1720400|輪島市|7" in params(info, "cityIntensity")
    # A town whose reading has not arrived is kept, with the condition as its value.
    assert "1738600|宝達志水町|震度５弱以上未入電" in params(info, "cityIntensity")
    towns = {a.area_desc: a.codes("気象・地震・火山情報／市町村等") for a in info.area}
    assert towns["穴水町"] == ("1746100",)
    assert towns["能登町"] == ("1746300",)
    assert "宝達志水町" in towns
    assert params(info, "comment") == ["0211"]


def test_major_tsunami_warning_for_noto() -> None:
    alert = load("02_vtse41_otsunami_keiho.xml")
    info = alert.primary
    assert info.event == "大津波警報"
    assert info.event_codes(KIND) == (Kind.TSUNAMI.value,)
    assert set(info.event_codes("警報等情報要素／津波警報・注意報・予報")) == {"53", "51", "62"}
    assert (info.severity, info.urgency) == (Severity.EXTREME, Urgency.IMMEDIATE)
    areas = {a.area_desc: a.codes("津波予報区") for a in info.area}
    assert areas["石川県能登"] == ("360",)
    assert "京都府" not in areas  # 津波なし is not an affected area
    noto = next(v for v in params(info, "tsunamiArea") if v.startswith("360|"))
    assert noto == "360|石川県能登|53|大津波警報：発表|51|ただちに津波来襲と予測|５ｍ"
    assert "340|新潟県上中下越|51|津波警報|62|2024-01-01T16:30:00+09:00|３ｍ" in params(info, "tsunamiArea")
    assert info.param("tsunamiKinds") == "大津波警報：発表,津波警報,津波注意報"
    assert covers(alert, ANAMIZU)
    assert covers(alert, "1720400")
    assert covers(alert, "1746300")


def test_tsunami_information_arrival_times_and_stations() -> None:
    alert = load("04_vtse51_tsunami_joho.xml")
    info = alert.primary
    assert info.event == "津波情報"
    assert "360|36020|輪島港|2024-01-01T17:40:00+09:00|津波到達中と推測" in params(info, "tsunamiStation")
    assert "360|36021|七尾港|2024-01-01T17:50:00+09:00|2024-01-01T16:30:00+09:00" in params(
        info, "tsunamiStation"
    )
    assert covers(alert, ANAMIZU)
    warning = load("02_vtse41_otsunami_keiho.xml")
    # One key per title and event: the information never supersedes the warning's pending send.
    assert alert.event_key != warning.event_key
    assert alert.event_key == "jma|津波情報a|20240101161010"


def test_tsunami_cancel_and_correction_reference_the_warning() -> None:
    original = load("02_vtse41_otsunami_keiho.xml")
    cancel = load("05_vtse41_torikeshi.xml")
    correction = load("06_vtse41_teisei.xml")
    assert cancel.msg_type is MsgType.CANCEL
    assert correction.msg_type is MsgType.UPDATE
    for follow_up in (cancel, correction):
        assert follow_up.event_key == original.event_key
        assert follow_up.identifier != original.identifier
        assert len(follow_up.references) == 1
        sender, _, _ = follow_up.references[0].split(",")
        assert sender == "jma.go.jp"
        # 津波警報 has no Serial: JMA cancels "the latest of this EventID", which the pipeline
        # resolves through the event key.
        assert follow_up.primary.param("referenceScope") == "latestOfEvent"
    assert cancel.referenced_identifiers() == correction.referenced_identifiers()
    assert cancel.primary.urgency is Urgency.PAST
    assert cancel.primary.severity is Severity.SEVERE
    assert any("１０ｍ超" in v for v in params(correction.primary, "tsunamiArea"))


def test_level_based_heavy_rain_warning() -> None:
    alert = load("07_vpww55_ooame_r06.xml")
    info = alert.primary
    assert info.event == "レベル４大雨危険警報"
    assert info.event_codes(KIND) == (Kind.WEATHER_WARNING.value,)
    assert info.param(LEVEL) == "4"
    assert (info.severity, info.urgency) == (Severity.SEVERE, Urgency.IMMEDIATE)
    warnings = params(info, "warning")
    assert "1720400|輪島市|43|レベル４大雨危険警報|発表|4" in warnings
    assert "1746100|穴水町|03|レベル３大雨警報|発表|3" in warnings
    assert "1746300|能登町|10|レベル２大雨注意報|継続|2" in warnings
    assert "1720500|珠洲市|10|レベル２大雨注意報|解除|2" in warnings
    assert info.param("liftedKinds") == "レベル２大雨注意報"
    towns = [a.area_desc for a in info.area]
    # Only the finest level, and only towns the telegram affects.
    assert "金沢市" not in towns
    assert "石川県" not in towns
    assert "能登北部" not in towns
    assert set(towns) == {"輪島市", "珠洲市", "穴水町", "能登町", "七尾市"}
    assert covers(alert, ANAMIZU)
    assert not covers(alert, "1720100")  # 金沢市: nothing in force there


def test_h27_warning_kinds_and_levels() -> None:
    info = load("08_vpww54_ooame_h27.xml").primary
    assert info.event == "大雨警報"
    assert info.param(LEVEL) == "3"
    assert info.param("warningKinds") == "大雨警報,洪水注意報,大雨注意報"
    assert set(info.event_codes("警報等情報要素／気象警報・注意報")) == {"03", "18", "10"}
    assert (info.severity, info.urgency, info.certainty) == (
        Severity.SEVERE,
        Urgency.EXPECTED,
        Certainty.LIKELY,
    )
    assert "1746100|穴水町|03|大雨警報|発表|3" in params(info, "warning")


def test_all_lifted_still_makes_an_alert() -> None:
    alert = load("09_vpww54_all_lifted.xml")
    info = alert.primary
    assert alert.msg_type is MsgType.ALERT
    assert info.param("allLifted") == "true"
    assert info.param(LEVEL) is None
    assert info.event == "気象警報・注意報解除"
    assert (info.severity, info.urgency) == (Severity.MINOR, Urgency.PAST)
    assert "1746100|穴水町|03|大雨警報|解除|3" in params(info, "warning")
    assert info.event_codes("警報等情報要素／気象警報・注意報") == ("00",)
    assert covers(alert, ANAMIZU)
    assert alert.event_key == load("08_vpww54_ooame_h27.xml").event_key


def test_weather_cancel_names_its_original_exactly() -> None:
    original = load("08_vpww54_ooame_h27.xml")
    cancel = load("10_vpww54_torikeshi.xml")
    assert cancel.msg_type is MsgType.CANCEL
    assert cancel.references == (original.reference_key,)
    assert cancel.primary.param("referenceScope") == "exact"
    assert cancel.event_key == original.event_key


def test_landslide_warning() -> None:
    alert = load("11_vxww50_dosha.xml")
    info = alert.primary
    assert info.event_codes(KIND) == (Kind.LANDSLIDE.value,)
    assert info.param(LEVEL) == "4"
    assert [a.area_desc for a in info.area] == ["輪島市", "穴水町"]
    assert not covers(alert, "1746300")  # 能登町: なし
    assert info.param("targetArea") == "170000|石川県"
    assert alert.event_key == "jma|土砂災害警戒情報|石川県土砂災害警戒情報"


def test_eew_warning() -> None:
    alert = load("12_vxse43_eew_keiho.xml")
    info = alert.primary
    assert info.event_codes(KIND) == (Kind.EEW.value,)
    assert (info.severity, info.urgency) == (Severity.EXTREME, Urgency.IMMEDIATE)
    assert "390|石川県能登|6+|over|既に主要動到達と推測|11" in params(info, "areaForecast")
    assert info.param("forecastIntensityFrom") == "6+"
    assert "緊急地震速報／府県予報区|9170|石川" in params(info, "warningRegion")
    assert [a.codes("地震情報／細分区域") for a in info.area] == [("390",), ("391",), ("381",)]
    assert info.param("serial") == "2"
    assert covers(alert, ANAMIZU)


def test_drill_and_test_status_and_separate_keys() -> None:
    drill = load("13_vtse41_kunren.xml")
    test = load("14_vxse42_shiken.xml")
    assert drill.status is Status.EXERCISE
    assert drill.is_drill
    assert test.status is Status.TEST
    assert test.is_drill
    # A drill never shares a key with a real telegram of the same title.
    assert drill.event_key.startswith("jma|Exercise|")
    assert test.event_key.startswith("jma|Test|")
    assert test.primary.event_codes(KIND) == (Kind.EEW.value,)


def test_parser_contract() -> None:
    parser = JmaParser()
    assert isinstance(parser, SourceParser)
    body = (DATA / "02_vtse41_otsunami_keiho.xml").read_bytes()
    received = datetime(2024, 1, 1, 16, 22, 30, tzinfo=JST)
    raw = RawEvent(source="file", body=body, submitted_by="test", received=received)
    assert parser.accepts(raw)
    alerts = parser.parse(raw)
    assert alerts[0].received == received
    assert alerts[0] == parse_bytes(body, received=received)[0]
    other = RawEvent(
        source="cap", body=b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'/>", submitted_by="t"
    )
    assert not parser.accepts(other)
    assert parser.accepts(other.model_copy(update={"source": "jma"}))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("01_vxse51_shindo_sokuho.xml", Kind.EARTHQUAKE),
        ("02_vtse41_otsunami_keiho.xml", Kind.TSUNAMI),
        ("07_vpww55_ooame_r06.xml", Kind.WEATHER_WARNING),
        ("11_vxww50_dosha.xml", Kind.LANDSLIDE),
        ("12_vxse43_eew_keiho.xml", Kind.EEW),
    ],
)
def test_alert_round_trips_through_json(name: str, kind: Kind) -> None:
    alert = load(name)
    again = Alert.model_validate_json(alert.model_dump_json(by_alias=True))
    assert again == alert
    assert again.primary.event_codes(KIND) == (kind.value,)
