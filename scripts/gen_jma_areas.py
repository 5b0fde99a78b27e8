"""Generate adapters/ingest/jma/data/areas.json from JMA's public code tables.

Inputs (all under the shared corpus, ``--corpus`` to point elsewhere; none is copied into the
project, only the derived relations):

* areacodes/jma-codes_json/forecast_area_tree.json: 市町村等 (AreaInformationCity) with the
  市町村等をまとめた地域 / 一次細分区域 / 府県予報区 each belongs to (気象警報・注意報).
* areacodes/jma-codes_json/AreaInformationPrefectureEarthquake.json: 地震情報／都道府県等.
* areacodes/jma-codes_json/AreaForecastLocalEEW.json, AreaForecastEEW.json: 緊急地震速報 areas.
* areacodes/jma-codes_xls/地震火山関連コード表.xls, sheet 24: 地震情報／細分区域 of every
  市町村等 (the JSON conversion only covers towns with a real-time intensity station, and
  穴水町 is not one of them); sheet 31: 津波予報区 with their 結合表現 / 領域表現 members.
* areacodes/jma-codes_xls/20240216_AreaInformationCity-AreaForecastLocalM.xls, sheet
  AreaInformationCity: which ward belongs to which designated city ("札幌市のうち中央区").

Reading the XLS needs ``xlrd`` (``pip install xlrd``); it is a development tool only, the
runtime reads the generated JSON.

Two relations are not in any JMA table and are derived here by documented rules:

* 緊急地震速報／府県予報区 of a 地震情報／細分区域: the prefecture's one EEW area, except in the
  four prefectures JMA splits (北海道, 東京都, 鹿児島県, 沖縄県), where the split follows the
  細分区域 names (e.g. 檜山地方 → 北海道道南). 緊急地震速報／地方予報区 follows from the EEW area.
* 津波予報区 of a municipality: exact where the 地震情報／細分区域 or the prefecture has the same
  name as a 津波予報区 (石川県能登 ↔ 石川県能登, 富山県 ↔ 富山県); otherwise every 津波予報区 of
  the prefecture (marked ``tsunamiApprox``), since coastlines are not in the tables. Every
  結合表現/領域表現 that contains one of the town's areas is added, because head lines use them.

Run: ``python scripts/gen_jma_areas.py`` (writes the data file; ``--check`` only compares).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "areacodes"
OUT = ROOT / "adapters" / "ingest" / "jma" / "data" / "areas.json"

# Where JMA splits a prefecture into several 緊急地震速報／府県予報区, by 細分区域 name.
EEW_SPLITS: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "01": [
        (("石狩", "空知", "後志", "北海道奥尻島", "胆振", "日高"), "9011"),
        (("渡島", "檜山"), "9012"),
        (("上川", "留萌", "宗谷", "北海道利尻礼文"), "9013"),
        (("網走", "北見", "紋別", "十勝", "釧路", "根室"), "9014"),
    ],
    "13": [
        (("伊豆大島", "新島", "神津島", "三宅島", "八丈島"), "9132"),
        (("小笠原",), "9133"),
        (("東京都",), "9131"),
    ],
    "46": [
        (("鹿児島県奄美",), "9462"),
        (("鹿児島県",), "9461"),
    ],
    "47": [
        (("沖縄県本島", "沖縄県久米島"), "9471"),
        (("沖縄県大東島",), "9472"),
        (("沖縄県宮古島",), "9473"),
        (("沖縄県石垣島", "沖縄県与那国島", "沖縄県西表島"), "9474"),
    ],
}

# 緊急地震速報／地方予報区 by 緊急地震速報／府県予報区 (JMA's regional grouping for EEW).
EEW_REGION_RANGES: list[tuple[int, int, str]] = [
    (9011, 9014, "9910"),  # 北海道
    (9020, 9070, "9920"),  # 東北
    (9080, 9131, "9931"),  # 関東 (茨城…東京)
    (9132, 9132, "9932"),  # 伊豆諸島
    (9133, 9133, "9933"),  # 小笠原
    (9140, 9140, "9931"),  # 神奈川
    (9150, 9180, "9934"),  # 北陸
    (9190, 9200, "9935"),  # 甲信
    (9210, 9240, "9936"),  # 東海
    (9250, 9300, "9941"),  # 近畿
    (9310, 9350, "9942"),  # 中国
    (9360, 9390, "9943"),  # 四国
    (9400, 9461, "9951"),  # 九州
    (9462, 9462, "9952"),  # 奄美
    (9471, 9474, "9960"),  # 沖縄
]


def _load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def _code(v: object) -> str:
    return str(int(v)) if isinstance(v, float) else str(v).strip()


def _eew_area(pref: str, saibun_name: str) -> str:
    for prefixes, code in EEW_SPLITS.get(pref, []):
        if saibun_name.startswith(prefixes):
            return code
    if pref in EEW_SPLITS:
        raise SystemExit(f"no EEW area for 細分区域 {saibun_name} in prefecture {pref}")
    return f"9{pref}0"


def _eew_region(eew: str) -> str:
    n = int(eew)
    for lo, hi, region in EEW_REGION_RANGES:
        if lo <= n <= hi:
            return region
    raise SystemExit(f"no EEW region for {eew}")


def _read_xls(corpus: Path) -> tuple[dict[str, tuple[str, str]], dict[str, str], dict[str, dict[str, Any]]]:
    try:
        import xlrd  # type: ignore[import-untyped]
    except ImportError as e:  # pragma: no cover - tooling hint
        raise SystemExit("this script reads JMA's XLS code tables: pip install xlrd") from e

    seis_book = xlrd.open_workbook(str(corpus / "jma-codes_xls" / "地震火山関連コード表.xls"))
    city_seis: dict[str, tuple[str, str]] = {}
    sheet = seis_book.sheet_by_name("24")
    for r in range(3, sheet.nrows):
        row = sheet.row_values(r)
        saibun, saibun_name, city = _code(row[0]), str(row[1]), _code(row[3])
        if city:
            city_seis.setdefault(city, (saibun, saibun_name))

    tsunami: dict[str, dict[str, Any]] = {}
    sheet = seis_book.sheet_by_name("31")
    for r in range(3, sheet.nrows):
        row = sheet.row_values(r)
        code, name, note = _code(row[0]), str(row[1]), str(row[3])
        members = re.search(r"構成する津波予報区([\d,]+)", note)
        tsunami[code] = {
            "name": name,
            "members": members.group(1).split(",") if members else [],
        }

    city_book = xlrd.open_workbook(
        str(corpus / "jma-codes_xls" / "20240216_AreaInformationCity-AreaForecastLocalM.xls")
    )
    sheet = city_book.sheet_by_name("AreaInformationCity")
    full_names: dict[str, str] = {}
    for r in range(3, sheet.nrows):
        row = sheet.row_values(r)
        full_names[_code(row[0])] = str(row[1])
    by_full = {v: k for k, v in full_names.items()}
    ward_parent: dict[str, str] = {}
    for code, full in full_names.items():
        if "のうち" in full:
            parent = by_full.get(full.split("のうち", 1)[0])
            if parent:
                ward_parent[code] = parent
    return city_seis, ward_parent, tsunami


def _tsunami_for(
    pref_name: str, saibun_name: str, tsunami: dict[str, dict[str, Any]]
) -> tuple[list[str], bool]:
    plain = {c: t for c, t in tsunami.items() if not t["members"]}
    exact = [c for c, t in plain.items() if t["name"] in (saibun_name, pref_name)]
    approx = False
    if not exact:
        combined = [c for c, t in tsunami.items() if t["members"] and t["name"] == pref_name]
        exact = [m for c in combined for m in tsunami[c]["members"]]
        if not exact:
            exact = [c for c, t in plain.items() if t["name"].startswith(pref_name)]
        approx = bool(exact)
    codes = set(exact)
    codes |= {c for c, t in tsunami.items() if t["members"] and codes & set(t["members"])}
    return sorted(codes), approx


def generate(corpus: Path) -> dict[str, Any]:
    tree = _load_json(corpus / "jma-codes_json" / "forecast_area_tree.json")["items"]
    prefs = {
        k: v["name"]
        for k, v in _load_json(corpus / "jma-codes_json" / "AreaInformationPrefectureEarthquake.json")[
            "items"
        ].items()
    }
    city_seis, ward_parent, tsunami = _read_xls(corpus)

    cities: dict[str, dict[str, Any]] = {}
    codes = sorted({k for k, v in tree.items() if v.get("level") == "city"} | set(city_seis))
    for code in codes:
        node = tree.get(code, {})
        forecast_node = (
            node if node.get("matome") or node.get("ichiji") else tree.get(ward_parent.get(code, ""), {})
        )
        forecast = [forecast_node[k] for k in ("matome", "ichiji", "fuken") if forecast_node.get(k)]
        wards = [w for w, p in ward_parent.items() if p == code]
        seis = sorted({city_seis[c][0] for c in [code, *wards] if c in city_seis})
        seis_names = sorted({city_seis[c][1] for c in [code, *wards] if c in city_seis})
        pref = code[:2]
        entry: dict[str, Any] = {"name": node.get("name", "")}
        if ward_parent.get(code):
            entry["parent"] = ward_parent[code]
        entry["forecast"] = list(dict.fromkeys(forecast))
        entry["seismic"] = seis
        entry["pref"] = pref if pref in prefs else ""
        eew = sorted({_eew_area(pref, n) for n in seis_names}) if pref in prefs else []
        entry["eew"] = eew
        entry["eewRegion"] = sorted({_eew_region(e) for e in eew})
        ts: set[str] = set()
        approx = False
        for n in seis_names or [""]:
            found, was_approx = _tsunami_for(prefs.get(pref, "?"), n, tsunami)
            ts |= set(found)
            approx = approx or was_approx
        entry["tsunami"] = sorted(ts)
        if approx:
            entry["tsunamiApprox"] = True
        cities[code] = entry

    return {
        "_source": "出典：気象庁 防災情報XML 個別コード表（AreaInformationCity, AreaForecastLocalM, "
        "地震火山関連コード表）を加工して作成",
        "_generator": "scripts/gen_jma_areas.py",
        "_inputs": [
            "jma-codes_json/forecast_area_tree.json",
            "jma-codes_json/AreaInformationPrefectureEarthquake.json",
            "jma-codes_xls/地震火山関連コード表.xls (sheets 24, 31)",
            "jma-codes_xls/20240216_AreaInformationCity-AreaForecastLocalM.xls (AreaInformationCity)",
        ],
        "cities": cities,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the areacodes folder")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="fail if the data file is out of date")
    args = ap.parse_args(argv)
    data = generate(args.corpus)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; run scripts/gen_jma_areas.py", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(data['cities'])} municipalities, {len(text.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
