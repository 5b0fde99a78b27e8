"""Japan's local-government codes (全国地方公共団体コード): municipalities and prefectures.

A municipality's JIS X 0402 code is five digits (two for the prefecture, JIS X 0401) and a check
digit: 穴水町 17461 → 174611. The same national table gives each prefecture a code of the same
shape, the prefecture's two digits, 000 and the check digit: 石川県 → 170003. That prefecture
code is what a message for "石川県" carries, and what every tenant of the prefecture is matched
under (TenantDirectory adds it beside each municipality code a tenant has).
"""

from __future__ import annotations

import re

# Weights of the five digits in the check digit (総務省: 全国地方公共団体コードの検査数字).
_WEIGHTS = (6, 5, 4, 3, 2)
_FIVE = re.compile(r"^\d{5}$")
_SIX = re.compile(r"^\d{6}$")

# JIS X 0401, in code order.
PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip


def check_digit(five: str) -> str:
    """The check digit of a five-digit code: the last digit of 11 - (weighted sum mod 11)."""
    if not _FIVE.match(five):
        raise ValueError(f"not a five-digit code: {five!r}")
    total = sum(int(d) * w for d, w in zip(five, _WEIGHTS, strict=True))
    return str((11 - total % 11) % 10)


def with_check_digit(five: str) -> str:
    return five + check_digit(five)


def is_valid(code: str) -> bool:
    """A six-digit code whose last digit is its check digit."""
    return bool(_SIX.match(code)) and check_digit(code[:5]) == code[5]


def prefecture_code(pref: str) -> str:
    """The six-digit code of a prefecture given by its JIS X 0401 number ("17" → "170003")."""
    if not (pref.isdigit() and len(pref) == 2 and 1 <= int(pref) <= len(PREFECTURES)):
        raise ValueError(f"not a prefecture number: {pref!r}")
    return with_check_digit(pref + "000")


def prefecture_of(code: str) -> str | None:
    """The prefecture code covering a valid six-digit code (itself, for a prefecture); else None."""
    if not is_valid(code):
        return None
    try:
        return prefecture_code(code[:2])
    except ValueError:
        return None


def is_prefecture(code: str) -> bool:
    return is_valid(code) and code[2:5] == "000"


def prefecture_by_name(name: str) -> str | None:
    """"石川県" (or "石川") → "170003"; None for anything else."""
    name = name.strip()
    for i, full in enumerate(PREFECTURES, start=1):
        if name == full or (len(name) >= 2 and full[:-1] == name and full != "北海道"):
            return prefecture_code(f"{i:02d}")
    return None


def prefecture_name(code: str) -> str | None:
    """"170003" or "17" → "石川県"."""
    pref = code[:2]
    if not pref.isdigit() or not 1 <= int(pref) <= len(PREFECTURES):
        return None
    return PREFECTURES[int(pref) - 1]


def all_prefectures() -> list[str]:
    return [prefecture_code(f"{i:02d}") for i in range(1, len(PREFECTURES) + 1)]
