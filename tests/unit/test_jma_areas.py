"""expand_city and the generated area table."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.ingest.jma.areas import city_name, expand_city, jis_x0402
from broadcaster.model import JIS_X0402

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "adapters" / "ingest" / "jma" / "data" / "areas.json"


def pairs(code: str) -> set[tuple[str, str]]:
    return {(g.value_name, g.value) for g in expand_city(code)}


def test_anamizu_is_covered_by_every_table_the_telegrams_use() -> None:
    assert pairs("1746100") == {
        ("気象・地震・火山情報／市町村等", "1746100"),
        ("気象情報／府県予報区・細分区域等", "170021"),  # 能登北部
        ("気象情報／府県予報区・細分区域等", "170020"),  # 能登
        ("気象情報／府県予報区・細分区域等", "170000"),  # 石川県
        ("地震情報／細分区域", "390"),  # 石川県能登
        ("地震情報／都道府県等", "17"),
        ("緊急地震速報／府県予報区", "9170"),  # 石川
        ("緊急地震速報／地方予報区", "9934"),  # 北陸
        ("津波予報区", "360"),  # 石川県能登
        ("津波予報区", "484"),  # 石川県 (結合表現)
        ("津波予報区", "493"),  # 北陸地方 (領域表現)
        ("沿岸地域", "360"),  # 沖合の津波観測's estimate for 石川県能登
        (JIS_X0402, "174611"),
    }
    assert city_name("1746100") == "穴水町"


@pytest.mark.parametrize(("code", "name"), [("1720400", "輪島市"), ("1746300", "能登町")])
def test_neighbours(code: str, name: str) -> None:
    got = pairs(code)
    assert ("気象情報／府県予報区・細分区域等", "170021") in got
    assert ("地震情報／細分区域", "390") in got
    assert ("津波予報区", "360") in got
    assert city_name(code) == name


def test_kaga_is_not_noto() -> None:
    kanazawa = pairs("1720100")
    assert ("地震情報／細分区域", "391") in kanazawa
    assert ("津波予報区", "361") in kanazawa
    assert ("津波予報区", "360") not in kanazawa
    assert ("気象情報／府県予報区・細分区域等", "170020") not in kanazawa


def test_ward_of_a_designated_city_includes_the_city() -> None:
    ward = pairs("0110100")  # 札幌市中央区
    assert ("気象・地震・火山情報／市町村等", "0110000") in ward
    assert ("緊急地震速報／府県予報区", "9011") in ward  # 北海道道央
    assert ("緊急地震速報／地方予報区", "9910") in ward


def test_unknown_code() -> None:
    assert expand_city("9999999") == []
    assert expand_city("") == []


def test_jis_check_digit() -> None:
    assert jis_x0402("1746100") == "174611"
    assert jis_x0402("0110000") == "011002"
    assert jis_x0402("1310100") == "131016"


def test_data_carries_attribution_and_is_small() -> None:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    assert "出典：気象庁" in data["_source"]
    assert data["_generator"] == "scripts/gen_jma_areas.py"
    assert len(data["cities"]) > 1800
    assert DATA.stat().st_size < 1_000_000


def test_data_is_what_the_script_generates(corpus: Path) -> None:
    if importlib.util.find_spec("xlrd") is None:
        pytest.skip("xlrd (development tool for the code tables) is not installed")
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "gen_jma_areas.py"),
            "--check",
            "--corpus",
            str(corpus / "areacodes"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
