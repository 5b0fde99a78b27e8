"""The words of L-Alert documents and what they mean in the broadcaster's model.

Shared by the parser and the outbound builder (adapters/outbound/lalert_out) so that what one writes
the other reads back: status and distribution types, categories, the evacuation wording of every
generation of the evacuation guideline, and the names of the parameters the parser emits.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from broadcaster.model import Kind, MsgType, Status

ORIGIN = "lalert"
# eventCode valueName for the commons category (EvacuationOrder, Shelter, ...), beside broadcaster:kind.
CATEGORY_CODE = "lalert:category"

# edxlde:distributionStatus. EDXL-DE's own values, and the Japanese words some systems write.
STATUS_WORDS: dict[str, Status] = {
    "actual": Status.ACTUAL,
    "実運用": Status.ACTUAL,
    "通常": Status.ACTUAL,
    "exercise": Status.EXERCISE,
    "訓練": Status.EXERCISE,
    "test": Status.TEST,
    "試験": Status.TEST,
    "system": Status.SYSTEM,
    "システム": Status.SYSTEM,
}

# Some systems write the withdrawal into the status field, or into a JMA-style Head/InfoType.
CANCEL_WORDS = frozenset({"取消", "取消し", "取り消し"})

# edxlde:distributionType. "Report" is a first edition; the commons uses Update for every later
# revision and Cancel for a withdrawal (取消). 訂正 (correction) is an update of the same document.
DISTRIBUTION_TYPES: dict[str, MsgType] = {
    "report": MsgType.ALERT,
    "発表": MsgType.ALERT,
    "新規": MsgType.ALERT,
    "update": MsgType.UPDATE,
    "更新": MsgType.UPDATE,
    "訂正": MsgType.UPDATE,
    "cancel": MsgType.CANCEL,
    "取消": MsgType.CANCEL,
}

# commons:category (also Control/Title) → the project's kind.
CATEGORY_KINDS: dict[str, Kind] = {
    "EvacuationOrder": Kind.EVACUATION,
    "Shelter": Kind.SHELTER,
    "DamageInformation": Kind.DAMAGE,
    "AntidisasterHeadquarter": Kind.HEADQUARTERS,
    "Event": Kind.NOTICE,
    "GeneralInformation": Kind.NOTICE,
    # 緊急速報メール: a copy of an area mail the municipality sent through the carriers. Its text
    # is free, so it has no level; rules decide what to do with it.
    "UrgentMail": Kind.OTHER,
}

CATEGORY_EVENTS: dict[str, str] = {
    "EvacuationOrder": "避難情報",
    "Shelter": "避難所情報",
    "DamageInformation": "被害情報",
    "AntidisasterHeadquarter": "災害対策本部設置状況",
    "Event": "イベント情報",
    "GeneralInformation": "お知らせ",
    "UrgentMail": "緊急速報メール",
}

ISSUE = "発令"
LIFT = "解除"

# The current (2021) wording for each level; older wordings are read and mapped onto these.
LEVEL_LABELS: dict[int, str] = {3: "高齢者等避難", 4: "避難指示", 5: "緊急安全確保"}
RESTRICTED_ZONE = "警戒区域"

_EXPLICIT_LEVEL = re.compile(r"警戒レベル([1-5])")


@dataclass(frozen=True)
class Sort:
    """One evacuation category (発令区分) as the document wrote it and as the model reads it."""

    original: str
    label: str
    level: int | None


def normalize(value: str) -> str:
    # NFKC folds full-width digits and brackets (【警戒レベル４】 → 【警戒レベル4】).
    return "".join(unicodedata.normalize("NFKC", value).split())


def classify_sort(value: str) -> Sort:
    """Map any generation's 発令区分 onto the five-level scale.

    Before 2019: 避難準備 / 避難勧告 / 避難指示. 2016–2021: 避難準備・高齢者等避難開始, 避難勧告,
    避難指示（緊急）, and from 2019 災害発生情報 (level 5). Since May 2021: 高齢者等避難 (3), 避難指示 (4),
    緊急安全確保 (5); 避難勧告 was abolished and folded into 避難指示, which is why it maps to 4.
    An explicit 警戒レベルN in the text wins over the keyword.
    """
    t = normalize(value)
    explicit = _EXPLICIT_LEVEL.search(t)
    level: int | None
    if "緊急安全確保" in t or "災害発生情報" in t:
        label, level = LEVEL_LABELS[5], 5
    elif "避難指示" in t or "避難勧告" in t:
        label, level = LEVEL_LABELS[4], 4
    elif "高齢者等避難" in t or "避難準備" in t:
        label, level = LEVEL_LABELS[3], 3
    elif RESTRICTED_ZONE in t:
        # A legal entry ban (災害対策基本法 第63条), outside the level scale.
        label, level = RESTRICTED_ZONE, None
    else:
        label, level = value.strip(), None
    if explicit:
        level = int(explicit.group(1))
    return Sort(original=value.strip(), label=label, level=level)


def is_lift(value: str | None) -> bool:
    return value is not None and LIFT in normalize(value)


# Parameter names the parser emits (docs/lalert.md lists them with examples). Indexed names are
# 1-based; `area.M` is the M-th area of the info block, `shelter.N` the N-th shelter.
P_DOCUMENT_ID = "lalert:documentId"
P_REVISION = "lalert:revision"
P_CATEGORY = "lalert:category"
P_DISASTER = "lalert:disasterName"
P_ISSUE_OR_LIFT = "lalert:issueOrLift"
P_HOUSEHOLDS = "lalert:households"
P_HEAD_COUNT = "lalert:headCount"
P_SHELTER_COUNT = "lalert:shelterCount"


def p_order(n: int, field: str) -> str:
    return f"lalert:order.{n}.{field}"


def p_area(m: int, field: str) -> str:
    return f"lalert:area.{m}.{field}"


def p_shelter(n: int, field: str) -> str:
    return f"lalert:shelter.{n}.{field}"


AREA_LIST_SEPARATOR = "、"

# Shelter Sort values: 未開設, 開設, 閉鎖, 不明, 常設. 常設 (always open) counts as open.
SHELTER_OPEN = frozenset({"開設", "常設"})
SHELTER_CLOSED = "閉鎖"
