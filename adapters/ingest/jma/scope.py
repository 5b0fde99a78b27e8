"""Where national and regional information applies: the prefectures it covers.

南海トラフ地震臨時情報, 後発地震注意情報, 熱中症警戒アラート and the 全般/地方/府県 気象情報 name
no town: they speak for the nation, a forecast region (地方予報区) or a prefecture (府県予報区).
Each becomes one area per prefecture, under the prefecture's JIS X 0402 code (石川県 = 170003),
which every tenant of the prefecture is matched by (broadcaster/pipeline/tenancy.py). Which
prefectures each covers is in docs/jma.md, *National and regional information*.
"""

from __future__ import annotations

from adapters.ingest.jma.draft import Draft
from broadcaster.areacodes import PREFECTURES, prefecture_code
from broadcaster.model import JIS_X0402

# 南海トラフ地震防災対策推進地域 (内閣府告示, 1都2府26県): the prefectures with municipalities
# designated for the countermeasures a 臨時情報 calls for.
NANKAI_TROUGH: tuple[str, ...] = (
    "茨城県", "千葉県", "東京都", "神奈川県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県",
    "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip
# 日本海溝・千島海溝周辺海溝型地震防災対策推進地域 (1道6県): where 北海道・三陸沖後発地震注意情報
# asks residents to stay ready.
JAPAN_TRENCH: tuple[str, ...] = ("北海道", "青森県", "岩手県", "宮城県", "福島県", "茨城県", "千葉県")

# 地方予報区 (JMA's forecast regions) and their prefectures; 九州北部地方 includes 山口県.
REGIONS: dict[str, tuple[str, ...]] = {
    "北海道地方": ("北海道",),
    "東北地方": ("青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県"),
    "関東甲信地方": (
        "茨城県",
        "栃木県",
        "群馬県",
        "埼玉県",
        "千葉県",
        "東京都",
        "神奈川県",
        "山梨県",
        "長野県",
    ),
    "北陸地方": ("新潟県", "富山県", "石川県", "福井県"),
    "東海地方": ("岐阜県", "静岡県", "愛知県", "三重県"),
    "近畿地方": ("滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県"),
    "中国地方": ("鳥取県", "島根県", "岡山県", "広島県"),
    "四国地方": ("徳島県", "香川県", "愛媛県", "高知県"),
    "九州北部地方": ("山口県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県"),
    "九州南部・奄美地方": ("宮崎県", "鹿児島県"),
    "沖縄地方": ("沖縄県",),
}
# 府県予報区 that are part of a prefecture: Hokkaido's and Okinawa's, and 奄美地方.
SUBREGIONS: dict[str, str] = {
    **{
        name: "北海道"
        for name in (
            "宗谷地方", "上川・留萌地方", "網走・北見・紋別地方", "釧路・根室地方", "十勝地方",
            "胆振・日高地方", "石狩・空知・後志地方", "渡島・檜山地方",
        )
    },
    **{name: "沖縄県" for name in ("沖縄本島地方", "大東島地方", "宮古島地方", "八重山地方")},
    "奄美地方": "鹿児島県",
}  # fmt: skip


def prefectures_in(title: str) -> list[str]:
    """The prefectures a regional or prefectural title names, in JIS order (none: not found)."""
    found: set[str] = set()
    for region, members in REGIONS.items():
        if region in title:
            found.update(members)
    for part, pref in SUBREGIONS.items():
        # 「鹿児島県（奄美地方を除く）」 names 奄美 only to leave it out; 鹿児島県 is named anyway.
        if part in title:
            found.add(pref)
    found.update(p for p in PREFECTURES if p in title)
    return [p for p in PREFECTURES if p in found]


def add_prefectures(draft: Draft, prefectures: tuple[str, ...] | list[str]) -> None:
    for name in prefectures:
        number = f"{PREFECTURES.index(name) + 1:02d}"
        draft.area(name, prefecture_code(number), JIS_X0402)


def add_nation(draft: Draft) -> None:
    add_prefectures(draft, PREFECTURES)
