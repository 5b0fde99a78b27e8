"""What a town is told of an earthquake and a river flood, from the corpus' official samples.

A town whose seismometer went silent after strong shaking (「震度５弱以上未入電」) is the worst
case, not the mildest; a quake abroad keeps JMA's detailed place name; a flood lift is a lift.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.ingest.jma import parse_bytes
from broadcaster.model import Info, ResponseType, Severity
from tests.town_support import receive

SAMPLES = "jma/official_samples"
# 駿河湾の地震 (2009-08-11): 富士市 reports 4 from one meter while another is silent.
SURUGA = "32-35_07_06_240613_VXSE53.xml"
# 岩手県内陸南部の地震 (sample): 金ケ崎町's only meter is silent.
IWATE = "32-35_06_03_240613_VXSE53.xml"
SILENT = {"fuji": SURUGA, "kanegasaki": IWATE}
FIJI = "32-35_01_03_100514_VXSE53.xml"
FLOOD = "16_01_01_220728_VXKOii.xml"


def params(info: Info, name: str) -> list[str]:
    return [p.value for p in info.parameter if p.value_name == name]


def read(corpus: Path, name: str) -> bytes:
    return (corpus / SAMPLES / name).read_bytes()


def test_a_silent_meter_beside_a_lower_reading_is_kept_as_the_condition(corpus: Path) -> None:
    cities = params(parse_bytes(read(corpus, SURUGA))[0].primary, "cityIntensity")
    # The condition first (what rules and text go by), the lower reading after it.
    assert "2221000|富士市|震度５弱以上未入電|4" in cities
    cities = params(parse_bytes(read(corpus, IWATE))[0].primary, "cityIntensity")
    assert "0338100|金ケ崎町|震度５弱以上未入電" in cities


@pytest.mark.parametrize("town", ["fuji", "kanegasaki"])
def test_the_5弱_rule_fires_for_a_town_whose_meter_is_silent(corpus: Path, town: str) -> None:
    got = receive(read(corpus, SILENT[town]), town)
    assert got is not None
    rules = [rule.name for rule, _ in got.decision.matched]
    assert "震度5弱以上は全媒体" in rules
    assert "震度5弱以上は区長に回覧" in rules


def test_a_silent_meter_is_said_plainly_in_the_towns_text(corpus: Path) -> None:
    got = receive(read(corpus, SURUGA), "fuji")
    assert got is not None
    ja = got.text("line")
    assert "富士市の震度：震度5弱以上と考えられるが、震度はまだ入っていない" in ja
    assert "震度4" not in ja.splitlines()[0]
    assert "Intensity 5 lower or more likely, not yet reported" in got.text("line", "en")


def test_a_quake_abroad_keeps_jmas_detailed_name(corpus: Path) -> None:
    alert = parse_bytes(read(corpus, FIJI))[0]
    info = alert.primary
    assert info.param("hypocenterName") == "南太平洋"
    assert info.param("hypocenterDetailedName") == "フィジー諸島"
    assert [a.area_desc for a in info.area] == ["フィジー諸島"]


def test_a_quake_abroad_is_named_by_its_detailed_name_in_text(corpus: Path) -> None:
    from tests.render_support import PUBLIC_URL, dispatch, renderer

    alert = parse_bytes(read(corpus, FIJI))[0].for_tenant("anamizu")
    text = renderer().render(
        alert, dispatch(alert, "line"), None, tenant_name="穴水町", public_url=PUBLIC_URL
    )[0]
    assert "フィジー諸島" in "\n".join(text.parts)
    assert "南太平洋" not in "\n".join(text.parts)


def _flood_lift(corpus: Path) -> bytes:
    # JMA's lift of a level-2 flood advisory keeps the advisory's name in its own: the corpus has
    # the advisory (code 20); the lift is the same telegram with the lift's kind (code 10).
    data = read(corpus, FLOOD).decode()
    assert "<Name>氾濫注意情報</Name>" in data
    data = data.replace("<Name>氾濫注意情報</Name>", "<Name>レベル２氾濫注意報解除</Name>")
    data = data.replace("<Code>20</Code>", "<Code>10</Code>")
    return data.encode()


def test_a_flood_lift_named_after_its_level_is_a_lift(corpus: Path) -> None:
    info = parse_bytes(_flood_lift(corpus))[0].primary
    assert info.param("allLifted") == "true"
    assert info.param("broadcaster:level") is None
    assert info.severity is Severity.MINOR
    assert ResponseType.ALL_CLEAR in info.response_type


def test_the_flood_advisory_itself_is_level_2(corpus: Path) -> None:
    info = parse_bytes(read(corpus, FLOOD))[0].primary
    assert info.param("broadcaster:level") == "2"
    assert info.param("allLifted") is None
