"""The R06 transition: one change of a town's warnings, sent by JMA in up to three formats
(気象警報・注意報 VPWW53/54, the level-based （Ｒ０６） VPWW55–61, 土砂災害警戒情報 VXWW50),
reaches each resident once per medium, in whatever order the formats arrive (docs/r06.md).

The sequences are JMA's official samples with one town of each sample standing for the test
town: its code and name are replaced by the test town's, everything else is JMA's. The samples
come from different years and offices; what matters is what each says of that town.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from broadcaster.replay import Step, replay
from broadcaster.settings import PROJECT_ROOT, load_settings

TENANTS = Path(__file__).resolve().parents[1] / "golden" / "replay" / "tenants"

# The test towns: 穴水町 on the Noto coast, 占冠村 inland in Hokkaido.
TOWNS = {"anamizu-machi": ("1746100", "穴水町"), "shimukappu-mura": ("0146300", "占冠村")}

# (corpus file, the town in it that stands for the test town, what JMA says of that town)
LEGACY_53 = ("15_14_01_170216_VPWW53.xml", "1311800", "荒川区")  # 大雨警報, 洪水警報 発表
LEGACY_54 = ("15_14_01_170216_VPWW54.xml", "1311800", "荒川区")  # the same telegram, Ｈ２７
R06_RAIN_3 = ("15_16_03_241226_VPWW55.xml", "0151100", "猿払村")  # レベル３大雨警報 継続
R06_RAIN_4 = ("15_16_03_241226_VPWW55.xml", "0121400", "稚内市")  # レベル４大雨危険警報 発表
LANDSLIDE_INFO = ("17_02_01_190529_VXWW50.xml", "0133100", "松前町")  # 土砂災害警戒情報 発表
R06_LANDSLIDE_4 = ("15_16_01_241031_VPWW56.xml", "0121400", "稚内市")  # レベル４土砂災害危険警報 発表


def _sequence(corpus: Path, tmp: Path, town: str, parts: list[tuple[str, str, str]]) -> list[Path]:
    code, name = TOWNS[town]
    tmp.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (file, stand_in, stand_in_name) in enumerate(parts):
        text = (corpus / "jma" / "official_samples" / file).read_text(encoding="utf-8")
        assert f"<Code>{stand_in}</Code>" in text, (file, stand_in)
        text = text.replace(f"<Code>{code}</Code>", "<Code>0000000</Code>")  # never the town twice
        text = text.replace(f"<Code>{stand_in}</Code>", f"<Code>{code}</Code>")
        text = text.replace(f"<Name>{stand_in_name}</Name>", f"<Name>{name}</Name>")
        path = tmp / f"{i:02d}_{file}"
        path.write_text(text, encoding="utf-8")
        out.append(path)
    return out


async def _carried(corpus: Path, tmp: Path, town: str, parts: list[tuple[str, str, str]]) -> list[Step]:
    settings = load_settings(None, tenants_dir=TENANTS)
    return await replay(settings, _sequence(corpus, tmp, town, parts))


def _per_channel(steps: list[Step], town: str) -> Counter[tuple[str, str]]:
    return Counter((c.channel, c.audience) for s in steps for c in s.carried if c.tenant == town)


def _lines(steps: list[Step], town: str) -> list[str]:
    return [f"{s.file}: {c.line}" for s in steps for c in s.carried if c.tenant == town]


SAME_CHANGE = {
    "legacy_then_r06": [LEGACY_53, LEGACY_54, R06_RAIN_3],
    "r06_then_legacy": [R06_RAIN_3, LEGACY_54, LEGACY_53],
    "r06_between": [LEGACY_54, R06_RAIN_3, LEGACY_53],
    "landslide_info_then_r06": [LANDSLIDE_INFO, R06_LANDSLIDE_4],
    "r06_then_landslide_info": [R06_LANDSLIDE_4, LANDSLIDE_INFO],
}


@pytest.mark.parametrize("town", sorted(TOWNS))
@pytest.mark.parametrize("case", sorted(SAME_CHANGE))
async def test_one_change_in_every_format_is_one_message_per_medium(
    case: str, town: str, corpus: Path, tmp_path: Path
) -> None:
    steps = await _carried(corpus, tmp_path, town, SAME_CHANGE[case])
    per = _per_channel(steps, town)
    assert per, f"{town} heard nothing of {case}"
    assert set(per.values()) == {1}, (per, _lines(steps, town))
    # Only the first telegram speaks; the others are recorded as nothing new for the town.
    first, *rest = steps
    assert any(c.tenant == town for c in first.carried)
    for later in rest:
        assert town in later.quiet, (later.file, _lines(steps, town))
        # The reason is on the town's audit trail: what it was already told, and by which alert.
        assert later.why[town].startswith("already told: "), later.why


@pytest.mark.parametrize("town", sorted(TOWNS))
async def test_a_more_precise_level_from_the_newer_format_is_told_once(
    town: str, corpus: Path, tmp_path: Path
) -> None:
    # The older 大雨警報 cannot say レベル４: the level-based telegram's 危険警報 is news, once.
    steps = await _carried(corpus, tmp_path, town, [LEGACY_54, R06_RAIN_4, LEGACY_53])
    for step in steps[:2]:
        per = _per_channel([step], town)
        assert per and set(per.values()) == {1}, (step.file, per)
    second = [c.line for c in steps[1].carried if c.tenant == town]
    assert all("レベル４大雨危険警報" in line for line in second)
    assert town in steps[2].quiet


@pytest.mark.parametrize("town", sorted(TOWNS))
async def test_the_older_format_after_the_newer_keeps_the_newer_level(
    town: str, corpus: Path, tmp_path: Path
) -> None:
    # レベル４大雨危険警報 first: the older 大雨警報 that follows is the same change, not a lowering.
    steps = await _carried(corpus, tmp_path, town, [R06_RAIN_4, LEGACY_54, LEGACY_53])
    per = _per_channel(steps, town)
    assert set(per.values()) == {1}, (per, _lines(steps, town))
    assert all("レベル４大雨危険警報" in line for line in _lines(steps, town))


async def test_the_older_formats_lift_reaches_where_the_level_based_warning_went(tmp_path: Path) -> None:
    # The project's 石川県 samples: the level-based レベル３大雨警報 speaks, the older 大雨警報 of
    # the same change is nothing new, and the older format's lift of everything is the
    # all-clear of what the level-based warning carried, on every medium it went to.
    samples = PROJECT_ROOT / "samples" / "jma"
    files = [
        samples / n
        for n in ("07_vpww55_ooame_r06.xml", "08_vpww54_ooame_h27.xml", "09_vpww54_all_lifted.xml")
    ]
    steps = await replay(load_settings(None, tenants_dir=TENANTS), files)
    warned, repeat, lift = steps
    town = "anamizu-machi"
    told = {(c.channel, c.audience) for c in warned.carried if c.tenant == town}
    assert told and town in repeat.quiet
    cleared = [c for c in lift.carried if c.tenant == town]
    assert {(c.channel, c.audience) for c in cleared} == told
    assert {c.state for c in cleared} == {"Update/AllClear"}


@pytest.mark.parametrize("town", sorted(TOWNS))
async def test_the_same_landslide_change_reaches_the_same_media_whichever_format_comes_first(
    town: str, corpus: Path, tmp_path: Path
) -> None:
    # 土砂災害警戒情報 first makes the level-based レベル４土砂災害危険警報 nothing new: it must
    # itself reach every medium the level-based warning would have.
    one = await _carried(corpus, tmp_path / "a", town, [LANDSLIDE_INFO, R06_LANDSLIDE_4])
    other = await _carried(corpus, tmp_path / "b", town, [R06_LANDSLIDE_4, LANDSLIDE_INFO])
    assert set(_per_channel(one, town)) == set(_per_channel(other, town))


async def test_after_a_cancel_the_reissued_warning_is_news_again(tmp_path: Path) -> None:
    # 大雨警報, its 取消, and the warning issued again a quarter of an hour later: the town was
    # told the first was withdrawn, so the second is news, not the same as what it held.
    samples = PROJECT_ROOT / "samples" / "jma"
    first = samples / "08_vpww54_ooame_h27.xml"
    again = tmp_path / "12_vpww54_again.xml"
    text = first.read_text(encoding="utf-8")
    again.write_text(text.replace("2024-07-01T09:05:00+09:00", "2024-07-01T09:20:00+09:00"), encoding="utf-8")
    steps = await replay(
        load_settings(None, tenants_dir=TENANTS), [first, samples / "10_vpww54_torikeshi.xml", again]
    )
    town = "anamizu-machi"
    warned, cancelled, reissued = steps
    assert {c.state for c in cancelled.carried if c.tenant == town} == {"Cancel/AllClear"}
    assert _per_channel([reissued], town) == _per_channel([warned], town)
