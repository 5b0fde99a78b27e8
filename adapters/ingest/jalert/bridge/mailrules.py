"""Which J-Alert information a receiver's e-mail carries: the shipped patterns and a town's own.

A receiver's 動作ルール設定 sends a mail for the information a rule selects (国民保護情報,
緊急地震速報, 津波, 気象 …; by 情報番号 and area). What the mail looks like is the receiver
vendor's: FDMA's interface specification is not public, and no two vendors need write the same
subject. So the patterns below look for the information's official name (the names J-Alert and
municipalities publish) anywhere in the subject and then the body, most specific first, and a
town adds its own per receiver (docs/jalert.md, *The mail intake*): a rule per 情報番号, per
address the receiver's rule sends to, or per subject.

A mail that no rule matches is never guessed at: it goes to quarantine with the raw mail kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Status = Literal["実運用", "訓練", "試験"]


class MailRule(BaseModel):
    """One kind of mail: how to recognise it and what J-Alert message it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    # Regular expressions (Python syntax, case ignored), searched in the NFKC-normalised subject, body, or
    # either (`text`); every one given must match. `to`: the address the receiver's rule sends to.
    subject: str | None = None
    body: str | None = None
    text: str | None = None
    to: str | None = None
    # 情報番号 this rule stands for (the receiver writes it in the mail, or the town reads it off
    # the receiver's 動作ルール設定); such a mail is this rule whatever its subject says.
    info_numbers: tuple[str, ...] = ()
    # What the mail becomes: a jalert/1 category (docs/jalert.md, Categories); the title, else
    # the words the pattern matched; a missile stage when the rule is for one; a fixed status,
    # else read from the mail (訓練, 試験 or テスト in it).
    category: str = "other"
    title: str | None = None
    stage: str | None = None
    status: Status | None = None
    # False: the receiver was heard (its health) but nothing is forwarded, because JMA's feed
    # carries the same information in full and two copies would reach residents.
    forward: bool = True
    description: str = ""

    @field_validator("subject", "body", "text", "to")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a regular expression: {v!r}: {e}") from e
        return v

    @model_validator(mode="after")
    def _says_something(self) -> MailRule:
        if not (self.subject or self.body or self.text or self.to or self.info_numbers):
            raise ValueError(f"mail rule {self.name}: give subject, body, text, to or info_numbers")
        return self


def _rule(name: str, text: str, category: str, description: str, **more: object) -> MailRule:
    return MailRule.model_validate({"name": name, "text": text, "category": category, "description": description, **more})


# The shipped defaults, tried after a receiver's own rules, in this order (the first that matches
# decides). Names as J-Alert's 24 kinds of information call them.
DEFAULT_RULES: tuple[MailRule, ...] = (
    _rule(
        "national_test", r"(?:Jアラート|J-ALERT|全国瞬時警報).{0,12}(?:テスト|試験)|全国一斉情報伝達試験|試験放送",
        "other", "全国一斉情報伝達試験や受信機の試験: 試験（Test）として職員にだけ届く",
        status="試験", title="Jアラート試験",
    ),
    _rule(
        "missile", r"弾道ミサイル|ミサイル(?:発射|通過|落下)|ミサイル", "missile",
        "弾道ミサイル情報: 段階（発射・直ちに避難・落下・通過・領海外落下）は本文の言葉から",
    ),
    _rule("air_attack", r"航空攻撃", "air_attack", "航空攻撃情報"),
    _rule("guerrilla", r"ゲリラ|特殊部隊", "guerrilla", "ゲリラ・特殊部隊攻撃情報"),
    _rule("terror", r"大規模テロ|テロ", "terror", "大規模テロ情報"),
    _rule("civil_protection", r"国民保護", "civil_protection", "その他の国民保護情報（本文がそのまま届く）"),
    _rule("eew", r"緊急地震速報", "eew", "緊急地震速報（警報）"),
    _rule("tsunami", r"大津波警報|津波警報|津波注意報", "tsunami", "大津波警報・津波警報・津波注意報（題は一致した語）"),
    _rule("special_warning", r"特別警報", "special_warning", "気象等の特別警報"),
    _rule("volcano", r"噴火警報|噴火速報", "volcano", "噴火警報・噴火速報"),
    _rule(
        "jma_information",
        r"震度速報|震源・震度|震源に関する|震源要素|警報・注意報|気象警報|注意報|土砂災害警戒情報|記録的短時間大雨|"
        r"竜巻注意情報|指定河川洪水予報|洪水予報|噴火予報|火口周辺警報|長周期地震動|南海トラフ|東海地震",
        "other",
        "気象庁の情報で、気象庁のフィードが全文を運ぶもの: 受信機の生存だけ記録し、転送しない",
        forward=False,
    ),
)

_STATUS_WORDS: tuple[tuple[str, Status], ...] = (("試験", "試験"), ("テスト", "試験"), ("訓練", "訓練"))
_CANCEL = re.compile(r"取消|取り消|キャンセル|誤報")
_INFO_NUMBER = re.compile(r"情報番号\s*[:：=]?\s*(\d{1,8})")


def normalise(text: str) -> str:
    """NFKC (full-width letters and digits, half-width kana), one space for runs of blanks."""
    return re.sub(r"[ \t\u3000]+", " ", unicodedata.normalize("NFKC", text)).strip()


@dataclass(frozen=True, slots=True)
class Matched:
    rule: MailRule
    title: str
    status: Status
    cancel: bool
    info_number: str | None


def info_number_of(subject: str, body: str) -> str | None:
    found = _INFO_NUMBER.search(subject) or _INFO_NUMBER.search(body)
    return found.group(1) if found else None


def status_of(subject: str, body: str) -> Status:
    """訓練 and 試験 in the subject decide first; then in the body; otherwise it is real."""
    for text in (subject, body):
        for word, status in _STATUS_WORDS:
            if word in text:
                return status
    return "実運用"


def _matches(rule: MailRule, subject: str, body: str, recipients: Sequence[str]) -> re.Match[str] | bool:
    found: re.Match[str] | bool = True
    for pattern, where in ((rule.subject, (subject,)), (rule.body, (body,)), (rule.text, (subject, body))):
        if pattern is None:
            continue
        hit = next((m for m in (re.search(pattern, w, re.IGNORECASE) for w in where) if m), None)
        if hit is None:
            return False
        if found is True:
            found = hit
    if rule.to is not None and not any(re.fullmatch(rule.to, r, re.IGNORECASE) for r in recipients):
        return False
    return found


def match(
    subject: str, body: str, recipients: Sequence[str], rules: Sequence[MailRule]
) -> Matched | None:
    """The first rule the mail matches: by 情報番号 first, then by the rules' patterns, in order."""
    subject, body = normalise(subject), normalise(body)
    number = info_number_of(subject, body)
    chosen: tuple[MailRule, re.Match[str] | bool] | None = None
    if number is not None:
        chosen = next(((r, True) for r in rules if number in r.info_numbers), None)
    if chosen is None:
        for rule in rules:
            if rule.info_numbers and not (rule.subject or rule.body or rule.text or rule.to):
                continue  # a rule of 情報番号 only
            hit = _matches(rule, subject, body, recipients)
            if hit:
                chosen = (rule, hit)
                break
    if chosen is None:
        return None
    rule, hit = chosen
    title = rule.title or (hit.group(0) if isinstance(hit, re.Match) and hit.group(0) else subject) or rule.name
    return Matched(
        rule=rule,
        title=title[:80],
        status=rule.status or status_of(subject, body),
        cancel=bool(_CANCEL.search(subject) or _CANCEL.search(body[:200])),
        info_number=number,
    )
