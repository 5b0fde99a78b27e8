"""The warning-state rule (broadcaster/model/warnstate.py) and how a telegram's warnings become
claims (broadcaster/pipeline/warnstate.py); docs/r06.md."""

from __future__ import annotations

from adapters.ingest.jma.parser import JmaParser
from broadcaster.model import RawEvent
from broadcaster.model.warnstate import Claim, Held, Level, judge
from broadcaster.pipeline.warnstate import claims_of, hazard_of
from broadcaster.rules.facts import CITY, Context
from broadcaster.settings import PROJECT_ROOT

SAMPLES = PROJECT_ROOT / "samples" / "jma"
AREA = "1746100"


def _held(hazard: str, low: int, high: int, nominal: int) -> dict[tuple[str, str], Held]:
    return {(AREA, hazard): Held(AREA, hazard, Level(low, high, nominal), "x", "jma-1")}


def _claim(hazards: tuple[str, ...], low: int, high: int, nominal: int) -> Claim:
    return Claim(AREA, hazards, Level(low, high, nominal), "x")


def test_names_reduce_to_hazards() -> None:
    assert hazard_of("レベル４土砂災害危険警報") == ("土砂災害", 4)
    assert hazard_of("土砂災害警戒情報") == ("土砂災害", 4)
    assert hazard_of("大雨特別警報") == ("大雨", 5)
    assert hazard_of("強風注意報") == ("暴風", 2)
    assert hazard_of("解除") is None


def test_the_older_word_after_the_newer_level_is_nothing_new() -> None:
    assert judge(_claim(("大雨", "土砂災害"), 3, 4, 3), _held("大雨", 4, 4, 4)) == "same"
    # …and it is read against the level-based 土砂災害 when the town holds only that.
    assert judge(_claim(("大雨", "土砂災害"), 3, 4, 3), _held("土砂災害", 3, 3, 3)) == "same"


def test_the_newer_level_refines_or_is_news() -> None:
    held = _held("大雨", 3, 4, 3)
    assert judge(_claim(("大雨",), 3, 3, 3), held) == "refines"
    assert judge(_claim(("大雨",), 4, 4, 4), held) == "news"
    assert judge(_claim(("大雨",), 2, 2, 2), held) == "news"
    assert judge(_claim(("大雨",), 0, 0, 0), held) == "news"


def test_nothing_held_is_news_even_for_a_lift() -> None:
    assert judge(_claim(("大雨",), 0, 0, 0), {}) == "news"


def test_claims_are_the_towns_own_areas_only() -> None:
    raw = RawEvent(
        source="jma",
        body=(SAMPLES / "07_vpww55_ooame_r06.xml").read_bytes(),
        content_type="application/xml",
        submitted_by="test",
    )
    alert = next(iter(JmaParser().parse(raw))).for_tenant("anamizu-machi")
    claims = claims_of(alert, Context(tenant="anamizu-machi", territory=frozenset({(CITY, AREA)})))
    assert claims == (Claim(AREA, ("大雨",), Level(3, 3, 3), "レベル３大雨警報"),)
    assert claims_of(alert, Context(tenant="anamizu-machi", territory=frozenset({(CITY, "0000000")}))) is None


def test_an_older_telegram_is_one_claim_over_rain_and_landslides() -> None:
    raw = RawEvent(
        source="jma",
        body=(SAMPLES / "08_vpww54_ooame_h27.xml").read_bytes(),
        content_type="application/xml",
        submitted_by="test",
    )
    alert = next(iter(JmaParser().parse(raw))).for_tenant("anamizu-machi")
    claims = claims_of(alert, Context(tenant="anamizu-machi", territory=frozenset({(CITY, AREA)})))
    # 大雨警報 over the level-based 大雨 and 土砂災害, in the range the level-based format splits;
    # 洪水注意報 on its own, read within the level-based 大雨 when the town holds no 洪水.
    assert claims == (
        Claim(AREA, ("大雨", "土砂災害"), Level(3, 4, 3), "大雨警報"),
        Claim(AREA, ("洪水",), Level(2, 2, 2), "洪水注意報", ("大雨", "土砂災害")),
    )


def test_an_older_flood_warning_is_news_against_its_own_advisory_not_against_the_rain_level() -> None:
    flood = _claim(("洪水",), 3, 4, 3)
    flood = Claim(AREA, ("洪水",), flood.level, "洪水警報", ("大雨", "土砂災害"))
    # The level-based レベル３大雨警報 already says as much: nothing new.
    assert judge(flood, _held("大雨", 3, 3, 3)) == "same"
    # The level-based レベル２大雨注意報 says less: news.
    assert judge(flood, _held("大雨", 2, 2, 2)) == "news"
    # The older 洪水注意報 was told: the 洪水警報 is news, whatever the rain.
    held = {**_held("大雨", 3, 4, 3), **_held("洪水", 2, 2, 2)}
    assert judge(flood, held) == "news"
