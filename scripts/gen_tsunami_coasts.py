"""Generate adapters/ingest/jma/data/tsunami_coasts.json: the coastal municipalities of each
津波予報区 (tsunami forecast region), from JMA's public code tables.

A tsunami warning must reach a town through its own coast only (docs/decisions.md, decision 9):
an inland village hears no tsunami warning, and a coast hears the grade of its own region. The
tables say neither directly; this script derives both, by rules written below and documented in
docs/tsunami-coasts.md.

Inputs (under the shared corpus, ``--corpus`` to point elsewhere; only derived relations are
written):

* areacodes/jma-codes_xls/20240216_AreaInformationCity-AreaForecastLocalM.xls, sheet
  AreaInformationCity: every 市町村等 with its 市町村等をまとめた地域 and the flags
  「波浪特別警報・警報・注意報発表対象」 and 「高潮特別警報・警報・注意報発表対象」; sheet
  AreaForecastLocalM（関係表　警報・注意報）: the names of those areas and of their 一次細分区域.
* areacodes/jma-codes_xls/地震火山関連コード表.xls, sheet 31 (AreaTsunami): the 津波予報区 and
  which 結合表現 / 領域表現 is made of which regions.

**Coastal** means: JMA issues wave warnings (波浪警報) for the municipality. Wave warnings are
issued for the municipalities that face the sea; storm-surge warnings (高潮) also for some
low-lying inland ones (新宿区, 一宮市), so that flag alone would call them coastal. Municipalities
with a storm-surge flag and no wave flag are listed as ``stormSurgeOnly`` (not mapped) for a
human to check: a tenant among them declares its regions in its settings.

A ward of a designated city is not in the warning tables (warnings name the city); it hears its
city's regions (``wardOf``), so an inland ward of a coastal city is told of its city's coast.

**Region of a coastal municipality**: in a prefecture with one region, that region; elsewhere the
rules in SPLITS below, which follow the regions' official definitions (by 振興局, district or
island) through the 市町村等をまとめた地域 and 一次細分区域 names, or name the municipality where a
district is split. Where a municipality faces two regions, or the definition is not certain at
that level, it is given both: it then hears the graver, which is the safe side. A coastal
municipality no rule covers gets every region of its prefecture and is listed as ``approx``.

Run: ``python scripts/gen_tsunami_coasts.py`` (writes the data file; ``--check`` only compares).
Reading the XLS needs ``xlrd`` (a development tool; the runtime reads the JSON). 出典：気象庁.
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
OUT = ROOT / "adapters" / "ingest" / "jma" / "data" / "tsunami_coasts.json"

CITY_XLS = "jma-codes_xls/20240216_AreaInformationCity-AreaForecastLocalM.xls"
QUAKE_XLS = "jma-codes_xls/地震火山関連コード表.xls"

# The regions of each prefecture (JIS prefecture number), from the regions' definitions.
PREFECTURE_REGIONS: dict[str, tuple[str, ...]] = {
    "01": ("100", "101", "102", "110", "111", "120"),
    "02": ("200", "201", "202"),
    "03": ("210",),
    "04": ("220",),
    "05": ("230",),
    "06": ("240",),
    "07": ("250",),
    "08": ("300",),
    "12": ("310", "311", "312"),
    "13": ("312", "320", "321"),
    "14": ("312", "330"),
    "15": ("340", "341"),
    "16": ("350",),
    "17": ("360", "361"),
    "18": ("370",),
    "22": ("380",),
    "23": ("390", "391"),
    "24": ("391", "400"),
    "26": ("500",),
    "27": ("510",),
    "28": ("520", "521", "522"),
    "30": ("530",),
    "31": ("540",),
    "32": ("550", "551"),
    "33": ("560",),
    "34": ("570",),
    "35": ("700", "701"),
    "36": ("580",),
    "37": ("590",),
    "38": ("600", "601"),
    "39": ("610",),
    "40": ("710", "711", "712"),
    "41": ("712", "720"),
    "42": ("712", "730", "731"),
    "43": ("712", "740"),
    "44": ("750", "751"),
    "45": ("760",),
    "46": ("770", "771", "772", "773"),
    "47": ("800", "801", "802"),
}

# Prefectures with several regions: (pattern, regions), first match wins. The pattern is searched
# in "<municipality>|<まとめた地域>|<一次細分区域>".
SPLITS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "01": [
        (r"\|(釧路|根室|十勝)", ("100",)),
        (r"\|(日高|胆振東部)", ("101",)),
        (r"\|胆振中部", ("101", "102")),  # 苫小牧市 and 室蘭市 share this district
        (r"\|(胆振西部|渡島東部)", ("102",)),
        (r"\|(渡島北部|渡島西部)", ("102", "111")),  # 八雲町 and 松前町: both seas
        (r"\|(檜山|後志)", ("111",)),
        (r"\|(石狩|留萌|利尻)", ("110",)),
        (r"\|宗谷", ("110", "120")),  # 稚内市 faces both; the district spans both
        (r"\|(網走|北見|紋別)", ("120",)),
    ],
    "02": [
        (r"^(今別町|外ヶ浜町)", ("200", "202")),
        (r"\|(西津軽|北五津軽)", ("200",)),
        (r"\|東青津軽", ("202",)),
        (r"^(野辺地町|横浜町)", ("202",)),
        (r"\|下北", ("201", "202")),
        (r"\|(上北|三八)", ("201",)),
    ],
    "12": [
        (r"\|(東葛飾|千葉中央)", ("312",)),
        (r"^(富津市)", ("311", "312")),
        (r"\|君津", ("312",)),
        (r"^(館山市|鋸南町)", ("311",)),
        (r"^南房総市", ("310", "311")),
        (r"\|(夷隅・安房|香取・海匝|山武・長生)", ("310",)),
    ],
    "13": [
        (r"\|２３区", ("312",)),
        (r"\|伊豆諸島", ("320",)),
        (r"\|小笠原", ("321",)),
    ],
    "14": [
        (r"\|横浜・川崎", ("312",)),
        (r"^横須賀市", ("312", "330")),
        (r"\|(三浦半島|湘南|西湘)", ("330",)),
    ],
    "15": [
        (r"\|佐渡", ("341",)),
        (r".", ("340",)),
    ],
    "17": [
        (r"\|能登", ("360",)),
        (r"\|加賀", ("361",)),
    ],
    "23": [
        (r"^(豊橋市|田原市)", ("390", "391")),
        (r".", ("391",)),
    ],
    "24": [
        (r"\|(北部|中部)\|", ("391",)),
        (r"\|伊勢志摩", ("391", "400")),
        (r"\|紀勢・東紀州", ("400",)),
    ],
    "28": [
        (r"\|但馬", ("520",)),
        (r"^(南あわじ市|洲本市)", ("521", "522")),
        (r"\|(淡路島|阪神|播磨)", ("521",)),
    ],
    "32": [
        (r"\|隠岐", ("551",)),
        (r".", ("550",)),
    ],
    "35": [
        (r"\|(萩・美祢|長門)", ("700",)),
        (r"\|下関", ("700", "701")),
        (r".", ("701",)),
    ],
    "38": [
        (r"\|南予南部", ("600",)),
        (r"\|南予北部", ("600", "601")),
        (r"\|(中予|東予)", ("601",)),
    ],
    "40": [
        (r"^北九州市", ("710", "711")),
        (r"\|北九州・遠賀", ("711",)),
        (r"\|京築", ("710",)),
        (r"\|福岡地方", ("711",)),
        (r"\|筑後", ("712",)),
    ],
    "41": [
        (r"\|(唐津|伊万里)", ("720",)),
        (r"\|南部$", ("712",)),
    ],
    "42": [
        (r"\|(壱岐|上対馬|下対馬)", ("731",)),
        (r"\|島原半島", ("712", "730")),
        (r"^諫早市", ("712", "730")),
        (r".", ("730",)),
    ],
    "43": [
        (r"\|天草地方", ("712", "740")),
        (r".", ("712",)),
    ],
    "44": [
        (r"\|北部\|", ("750",)),
        (r"\|中部\|", ("750", "751")),
        (r"\|南部$", ("751",)),
    ],
    "46": [
        (r"\|(種子島|屋久島)", ("771",)),
        (r"\|(奄美|十島村)", ("772",)),
        (r"\|大隅", ("770",)),
        (r"^(鹿児島市|姶良市|霧島市)", ("770",)),
        (r"^指宿市", ("770", "773")),
        (r"\|薩摩地方$", ("773",)),
    ],
    "47": [
        (r"\|大東島", ("801",)),
        (r"\|(宮古島|石垣島|与那国島)", ("802",)),
        (r"\|(本島|久米島)", ("800",)),
    ],
}


def _xlrd() -> Any:
    try:
        import xlrd  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        sys.exit("reading JMA's XLS tables needs xlrd: pip install xlrd")
    return xlrd


def _regions(corpus: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(basic region code → name, group code → its regions) from sheet 31."""
    sheet = _xlrd().open_workbook(str(corpus / QUAKE_XLS)).sheet_by_name("31")
    basic: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for r in range(sheet.nrows):
        row = sheet.row_values(r)
        if not isinstance(row[0], float):
            continue
        code, name, note = str(int(row[0])), str(row[1]), str(row[3])
        if note.startswith("津波予報区"):
            basic[code] = name
        members = re.search(r"構成する津波予報区([0-9,、]+)", note)
        if members:
            groups[code] = re.split(r"[,、]", members.group(1))
    return basic, groups


def _cities(corpus: Path) -> list[dict[str, Any]]:
    book = _xlrd().open_workbook(str(corpus / CITY_XLS))
    rel = book.sheet_by_name("AreaForecastLocalM（関係表　警報・注意報")
    district: dict[str, tuple[str, str]] = {}
    for r in range(3, rel.nrows):
        v = rel.row_values(r)
        district[str(v[0])] = (str(v[1]), str(v[3]))
    sheet = book.sheet_by_name("AreaInformationCity")
    out = []
    full_names: dict[str, str] = {}
    for r in range(3, sheet.nrows):
        v = sheet.row_values(r)
        code, name = str(v[0]), str(v[2])
        if not re.fullmatch(r"\d{7}", code):
            continue
        if not name:
            # A ward of a designated city (「北海道札幌市のうち中央区」): warnings name the city, and
            # the ward hears the city's coast.
            city = full_names.get(str(v[1]).split("のうち")[0])
            if city is not None:
                out.append({"code": code, "name": str(v[11]) or str(v[1]), "ward_of": city})
            continue
        full_names[str(v[1])] = code
        matome, ichiji = district.get(str(v[4]), ("", ""))
        out.append(
            {
                "code": code,
                "name": name,
                "district": matome,
                "area": ichiji,
                "wave": v[8] == 1.0,
                "surge": v[7] == 1.0,
            }
        )
    return out


def build(corpus: Path) -> dict[str, Any]:
    basic, groups = _regions(corpus)
    cities: dict[str, Any] = {}
    approx: list[str] = []
    surge_only: list[str] = []
    listed = _cities(corpus)
    for c in listed:
        pref = c["code"][:2]
        if "ward_of" in c:
            continue
        if not c["wave"]:
            if c["surge"]:
                surge_only.append(f"{c['code']} {c['name']}")
            continue
        own = PREFECTURE_REGIONS.get(pref)
        if not own:
            raise SystemExit(f"{c['code']} {c['name']}: coastal, but prefecture {pref} has no region here")
        regions: tuple[str, ...] | None = own if len(own) == 1 else None
        key = f"{c['name']}|{c['district']}|{c['area']}"
        for pattern, found in SPLITS.get(pref, []):
            if regions is None and re.search(pattern, key):
                regions = found
        if regions is None:
            regions = own
            approx.append(f"{c['code']} {c['name']}")
        unknown = [x for x in regions if x not in basic]
        if unknown:
            raise SystemExit(f"{c['code']} {c['name']}: regions {unknown} are not in sheet 31")
        cities[c["code"]] = {"name": c["name"], "regions": sorted(regions)}
    for c in listed:
        city = cities.get(c.get("ward_of", ""))
        if city is not None:
            cities[c["code"]] = {"name": c["name"], "regions": city["regions"], "wardOf": c["ward_of"]}
    reached = {r for v in cities.values() for r in v["regions"]}
    missing = sorted(set(basic) - reached)
    if missing:
        raise SystemExit(f"regions that reach no municipality: {missing}")
    return {
        "_generator": "scripts/gen_tsunami_coasts.py",
        "_inputs": [CITY_XLS + " (AreaInformationCity, AreaForecastLocalM)", QUAKE_XLS + " (sheet 31)"],
        "_source": "出典：気象庁 防災情報XML 個別コード表（AreaInformationCity, AreaForecastLocalM, AreaTsunami）を加工して作成",
        "regions": {
            code: {
                "name": name,
                "cities": sorted(k for k, v in cities.items() if code in v["regions"] and "wardOf" not in v),
            }
            for code, name in sorted(basic.items())
        },
        "groups": {code: sorted(members) for code, members in sorted(groups.items())},
        "cities": dict(sorted(cities.items())),
        "approx": approx,
        "stormSurgeOnly": surge_only,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--check", action="store_true", help="only tell whether the data file is current")
    args = ap.parse_args()
    text = json.dumps(build(args.corpus), ensure_ascii=False, indent=1) + "\n"
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        print("current" if current == text else f"{OUT} is out of date: run scripts/gen_tsunami_coasts.py")
        return 0 if current == text else 1
    OUT.write_text(text, encoding="utf-8")
    data = json.loads(text)
    print(
        f"{OUT.relative_to(ROOT)}: {sum(1 for v in data['cities'].values() if 'wardOf' not in v)} coastal municipalities, {len(data['regions'])} regions, "
        f"{len(data['approx'])} approximate, {len(data['stormSurgeOnly'])} storm-surge only"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
