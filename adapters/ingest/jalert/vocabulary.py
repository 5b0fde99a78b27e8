"""The words of the J-Alert input format (docs/jalert.md) and what they mean in the Alert model.

The government's texts below are the 国民保護情報 broadcast templates for a ballistic missile as
the Cabinet Secretariat's 国民保護ポータルサイト publishes them (corpus jalert/README.md): the
receiver's own text always wins; these fill in only when a message names its stage without text.
`●` marks are filled from the message's `time` and `place`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from broadcaster.model import Category, Certainty, Kind, MsgType, ResponseType, Severity, Status, Urgency

ORIGIN = "jalert"
FORMAT = "jalert/1"
SENDER = "jalert"
SOURCE_NAME = "Jアラート（全国瞬時警報システム）"

# How a message left the receiver: its e-mail notification, a contact output (接点), or a file
# or script in the jalert/1 format (the bridge's folder and local hook).
VIAS = ("mail", "contact", "message")

# eventCode valueNames beside broadcaster:kind.
CATEGORY_CODE = "jalert:category"
STAGE_CODE = "jalert:stage"
# The parameter the renderer reads to pick the wording of a missile stage (render/facts.py).
MISSILE_STAGE_PARAM = "missileStage"


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    kind: Kind
    cap: Category
    event: str  # info.event
    authority: str  # who issues it (info.senderName, before "（Jアラート）")
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    response: tuple[ResponseType, ...]

    @property
    def civil_protection(self) -> bool:
        return self.kind is Kind.MISSILE


def _cp(event: str) -> CategoryInfo:
    # 国民保護情報: always Immediate and Extreme; "…とみられます" is the government's own hedge.
    return CategoryInfo(
        Kind.MISSILE, Category.SECURITY, event, "内閣官房", Urgency.IMMEDIATE, Severity.EXTREME, Certainty.LIKELY,
        (ResponseType.SHELTER,),
    )  # fmt: skip


CATEGORIES: dict[str, CategoryInfo] = {
    "missile": _cp("弾道ミサイル情報"),
    "air_attack": _cp("航空攻撃情報"),
    "guerrilla": _cp("ゲリラ・特殊部隊攻撃情報"),
    "terror": _cp("大規模テロ情報"),
    "civil_protection": _cp("国民保護情報"),
    "eew": CategoryInfo(
        Kind.EEW, Category.GEO, "緊急地震速報", "気象庁", Urgency.IMMEDIATE, Severity.SEVERE, Certainty.LIKELY,
        (ResponseType.SHELTER,),
    ),
    "tsunami": CategoryInfo(
        Kind.TSUNAMI, Category.GEO, "津波警報", "気象庁", Urgency.IMMEDIATE, Severity.SEVERE, Certainty.LIKELY,
        (ResponseType.EVACUATE,),
    ),
    "special_warning": CategoryInfo(
        Kind.SPECIAL_WARNING, Category.MET, "特別警報", "気象庁", Urgency.IMMEDIATE, Severity.EXTREME,
        Certainty.LIKELY, (ResponseType.EVACUATE,),
    ),
    "volcano": CategoryInfo(
        Kind.VOLCANO, Category.GEO, "噴火警報", "気象庁", Urgency.IMMEDIATE, Severity.SEVERE, Certainty.LIKELY,
        (ResponseType.EVACUATE,),
    ),
    "other": CategoryInfo(
        Kind.OTHER, Category.OTHER, "Jアラート情報", "消防庁", Urgency.IMMEDIATE, Severity.UNKNOWN,
        Certainty.UNKNOWN, (),
    ),
}  # fmt: skip

# The Japanese names a receiver may write instead of the keys above.
CATEGORY_WORDS: dict[str, str] = {
    "弾道ミサイル情報": "missile",
    "弾道ミサイル": "missile",
    "ミサイル": "missile",
    "航空攻撃情報": "air_attack",
    "ゲリラ・特殊部隊攻撃情報": "guerrilla",
    "大規模テロ情報": "terror",
    "国民保護情報": "civil_protection",
    "緊急地震速報": "eew",
    "大津波警報": "tsunami",
    "津波警報": "tsunami",
    "津波注意報": "tsunami",
    "特別警報": "special_warning",
    "噴火警報": "volcano",
    "その他": "other",
}

# A tsunami's grade is in its title; the others keep their category's.
TSUNAMI_GRADES: tuple[tuple[str, Severity], ...] = (
    ("大津波警報", Severity.EXTREME),
    ("津波警報", Severity.SEVERE),
    ("津波注意報", Severity.MODERATE),
)

STATUS_WORDS: dict[str, Status] = {
    "actual": Status.ACTUAL,
    "実運用": Status.ACTUAL,
    "exercise": Status.EXERCISE,
    "訓練": Status.EXERCISE,
    "test": Status.TEST,
    "試験": Status.TEST,
    "system": Status.SYSTEM,
}

MSG_TYPE_WORDS: dict[str, MsgType] = {
    "alert": MsgType.ALERT,
    "発表": MsgType.ALERT,
    "update": MsgType.UPDATE,
    "続報": MsgType.UPDATE,
    "訂正": MsgType.UPDATE,
    "cancel": MsgType.CANCEL,
    "取消": MsgType.CANCEL,
    "取消し": MsgType.CANCEL,
}

# Ballistic-missile stages, named as the renderer names them (render/facts.py _MISSILE_STAGES).
STAGES = ("launch", "take_cover", "landed", "passed", "fell_at_sea")
STAGE_WORDS: dict[str, str] = {
    "発射": "launch",
    "ミサイル発射": "launch",
    "直ちに避難": "take_cover",
    "落下予測": "take_cover",
    "落下": "landed",
    "ミサイル落下": "landed",
    "落下推定": "landed",
    "通過": "passed",
    "ミサイル通過": "passed",
    "上空通過": "passed",
    "領海外落下": "fell_at_sea",
    "領海外への落下": "fell_at_sea",
    "領海外に落下": "fell_at_sea",
}
# When a message names no stage, its title or text tells (most specific first).
STAGE_CLUES: tuple[tuple[str, str], ...] = (
    ("直ちに避難", "take_cover"),
    ("通過", "passed"),
    ("領海外", "fell_at_sea"),
    ("海に落下", "fell_at_sea"),
    ("落下", "landed"),
    ("発射", "launch"),
)

STAGE_HEADLINES: dict[str, str] = {
    "launch": "ミサイル発射",
    "take_cover": "直ちに避難",
    "landed": "ミサイル落下",
    "passed": "ミサイル通過",
    "fell_at_sea": "ミサイル落下（領海外）",
}
STAGE_RESPONSES: dict[str, tuple[ResponseType, ...]] = {
    "launch": (ResponseType.SHELTER,),
    "take_cover": (ResponseType.SHELTER,),
    "landed": (ResponseType.SHELTER,),
    # The danger has passed; what is left is the advice not to touch fragments.
    "passed": (ResponseType.AVOID,),
    "fell_at_sea": (ResponseType.AVOID,),
}

_SUSPICIOUS = "不審な物を発見した場合には、決して近寄らず、直ちに警察や消防などに連絡して下さい。"

# Per stage: the sentences that need no blanks, and the sentence with blanks ({time}, {place}).
# Without a time and a place the blank sentence is left out rather than guessed.
GOVERNMENT_TEXTS: dict[str, tuple[str, str | None, str]] = {
    "launch": (
        "ミサイル発射。ミサイル発射。{launcher}からミサイルが発射されたものとみられます。建物の中、または地下に避難して下さい。",
        None,
        "",
    ),
    "take_cover": (
        "直ちに避難。直ちに避難。直ちに建物の中、又は地下に避難して下さい。",
        "ミサイルが、{time}頃、{place}周辺に落下するものとみられます。",
        "直ちに避難して下さい。",
    ),
    "landed": (
        "ミサイル落下。ミサイル落下。",
        "ミサイルが、{time}頃、{place}周辺に落下したものとみられます。",
        "続報を伝達しますので、引き続き屋内に避難して下さい。",
    ),
    "passed": (
        "ミサイル通過。ミサイル通過。",
        "先程のミサイルは、{time}頃、{place}へ通過したものとみられます。",
        _SUSPICIOUS,
    ),
    "fell_at_sea": (
        "",
        "先程のミサイルは、{time}頃、{place}に落下したものとみられます。",
        _SUSPICIOUS,
    ),
}
DEFAULT_LAUNCHER = "北朝鮮"


def normalize(word: str) -> str:
    """NFKC (full-width letters and digits become ASCII), trimmed, for matching vocabulary."""
    return unicodedata.normalize("NFKC", word).strip()


def lookup_key(word: str) -> str:
    return normalize(word).casefold().replace("-", "_")
