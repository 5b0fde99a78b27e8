"""Tsunami forecast regions reach coastal municipalities only, each through its own coast
(adapters/ingest/jma/data/tsunami_coasts.json, scripts/gen_tsunami_coasts.py, docs/tsunami-coasts.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.ingest.jma.areas import _table, expand_city, tsunami_regions
from broadcaster.rules.facts import TSUNAMI_AREA

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "adapters" / "ingest" / "jma" / "data" / "tsunami_coasts.json"


def _regions_of(code: str) -> set[str]:
    return {nv.value for nv in expand_city(code) if nv.value_name == TSUNAMI_AREA}


def _flags(corpus: Path) -> dict[str, tuple[bool, bool]]:
    """(wave warnings issued, storm-surge warnings issued) per municipality, from JMA's table."""
    xlrd = pytest.importorskip("xlrd")
    book = xlrd.open_workbook(
        str(corpus / "areacodes/jma-codes_xls/20240216_AreaInformationCity-AreaForecastLocalM.xls")
    )
    sheet = book.sheet_by_name("AreaInformationCity")
    out = {}
    for r in range(3, sheet.nrows):
        v = sheet.row_values(r)
        if str(v[2]):
            out[str(v[0])] = (v[8] == 1.0, v[7] == 1.0)
    return out


def test_the_data_is_current(corpus: Path) -> None:
    pytest.importorskip("xlrd")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "gen_tsunami_coasts.py"),
            "--check",
            "--corpus",
            str(corpus / "areacodes"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_region_of_the_sixty_six_reaches_a_municipality() -> None:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    assert len(data["regions"]) == 66
    assert all(region["cities"] for region in data["regions"].values())
    assert "出典：気象庁" in data["_source"]


def test_no_inland_municipality_hears_a_tsunami_region_and_every_coastal_one_does(corpus: Path) -> None:
    flags = _flags(corpus)
    inland = [c for c, (wave, _) in flags.items() if not wave and c in _table()]
    coastal = [c for c, (wave, _) in flags.items() if wave and c in _table()]
    assert len(inland) > 1000 and len(coastal) > 600
    assert [c for c in inland if _regions_of(c)] == []
    assert [c for c in coastal if not _regions_of(c)] == []


@pytest.mark.parametrize(
    ("code", "town", "region"),
    [
        ("4720700", "石垣市", "802"),  # 宮古島・八重山地方
        ("4738200", "与那国町", "802"),
        ("4735700", "南大東村", "801"),  # 大東島地方
        ("4720100", "那覇市", "800"),  # 沖縄本島地方
        ("1340100", "八丈町", "320"),  # 伊豆諸島
        ("1336100", "大島町", "320"),
        ("1342100", "小笠原村", "321"),  # 小笠原諸島
        ("0121100", "網走市", "120"),  # オホーツク海沿岸
        ("0121900", "紋別市", "120"),
        ("1746100", "穴水町", "360"),
        ("1720400", "輪島市", "360"),
        ("1720600", "加賀市", "361"),
        ("1720100", "金沢市", "361"),
        ("3920100", "高知市", "610"),
        ("2221000", "富士市", "380"),
    ],
)
def test_islands_and_remote_coasts_reach_their_towns(code: str, town: str, region: str) -> None:
    assert _table()[code]["name"] == town
    assert region in tsunami_regions(code)
    assert region in _regions_of(code)


def test_a_town_hears_its_own_coast_not_its_prefectures_other_one() -> None:
    assert tsunami_regions("1746100") == ["360"]  # 穴水町: 能登, never 加賀
    assert tsunami_regions("1720600") == ["361"]
    assert "360" not in _regions_of("1720600")
    # The 結合表現 and 領域表現 that contain the town's own region are added (head lines use them).
    assert {"360", "484", "493"} <= _regions_of("1746100")


@pytest.mark.parametrize(
    ("code", "town"),
    [("0146300", "占冠村"), ("1330700", "檜原村"), ("1732400", "川北町"), ("1721200", "野々市市")],
)
def test_inland_villages_have_no_tsunami_region(code: str, town: str) -> None:
    assert _table()[code]["name"] == town
    assert _regions_of(code) == set()


def test_a_ward_hears_its_city_coast() -> None:
    # 札幌市中央区: wards are not in the wave-warning table; the city's (inland) answer holds.
    assert _regions_of("0110100") == set()
    assert tsunami_regions("1410100") == tsunami_regions("1410000") != []  # 横浜市鶴見区 → 横浜市


def test_offshore_estimates_reach_the_coast_they_estimate(corpus: Path) -> None:
    # 沖合の津波観測 names 沿岸地域, which JMA codes exactly like the 津波予報区.
    coasts = json.loads((corpus / "areacodes/jma-codes_json/CoastTsunami.json").read_text(encoding="utf-8"))[
        "items"
    ]
    regions = json.loads(DATA.read_text(encoding="utf-8"))["regions"]
    assert {k: v["name"] for k, v in coasts.items()} == {k: v["name"] for k, v in regions.items()}
    assert ("沿岸地域", "610") in {(nv.value_name, nv.value) for nv in expand_city("3920100")}
    assert not [nv for nv in expand_city("0146300") if nv.value_name == "沿岸地域"]
