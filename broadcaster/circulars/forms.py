"""What a leader may answer, checked strictly: a safety check, a head-count, yes/no, free text.

Input comes from a form anyone holding a link can post, so every field is bounded and parsed,
never stored as given. An answer is a plain dict (stored as JSON); `note` is free text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from broadcaster.circulars.config import FormKind

FORMS: tuple[FormKind, ...] = ("none", "safety", "headcount", "yesno")
# 安否確認: households in the district, by what the leader learned of them.
SAFETY_FIELDS: tuple[tuple[str, str], ...] = (
    ("safe", "無事を確認した世帯"),
    ("need_help", "支援が必要な世帯"),
    ("unreachable", "連絡がつかない世帯"),
)
HEADCOUNT_FIELDS: tuple[tuple[str, str], ...] = (("evacuees", "避難している人数"),)
YESNO = {"yes": "はい", "no": "いいえ"}
MAX_COUNT = 100_000
MAX_NOTE = 2000


class AnswerError(ValueError):
    """A reply that cannot be taken; the message is for the person at the form (Japanese)."""


@dataclass(frozen=True, slots=True)
class Answer:
    form: str  # the circular's form, or "text" for a note alone
    data: dict[str, Any]


def _count(raw: str, label: str) -> int | None:
    # Phones offer full-width digits (１８) through Japanese keyboards; NFKC makes them ASCII.
    text = unicodedata.normalize("NFKC", raw).strip().replace(",", "")
    if not text:
        return None
    if not text.isdigit():
        raise AnswerError(f"「{label}」には数字を入れてください。")
    value = int(text)
    if value > MAX_COUNT:
        raise AnswerError(f"「{label}」の数が大きすぎます。")
    return value


def _note(raw: str) -> str:
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").strip()
    # Control characters have no place in a note (they would only upset the CSV and the console).
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    if len(text) > MAX_NOTE:
        raise AnswerError(f"連絡事項は{MAX_NOTE}文字までです。")
    return text


def parse_answer(form: str, fields: Mapping[str, str]) -> Answer:
    """The answer a posted form carries, for a circular whose form is `form`."""
    if form not in FORMS:
        raise AnswerError("この回覧には回答できません。")
    note = _note(fields.get("note", ""))
    data: dict[str, Any] = {}
    if form == "safety":
        for name, label in SAFETY_FIELDS:
            value = _count(fields.get(name, ""), label)
            if value is not None:
                data[name] = value
    elif form == "headcount":
        for name, label in HEADCOUNT_FIELDS:
            value = _count(fields.get(name, ""), label)
            if value is not None:
                data[name] = value
    elif form == "yesno":
        choice = fields.get("choice", "").strip()
        if choice:
            if choice not in YESNO:
                raise AnswerError("「はい」か「いいえ」を選んでください。")
            data["choice"] = choice
    if not data:
        if not note:
            raise AnswerError("回答を入れてから送ってください。")
        return Answer("text", {"note": note})
    if note:
        data["note"] = note
    return Answer(form, data)


def describe(answer_form: str, data: Mapping[str, Any]) -> str:
    """An answer in one line of Japanese, for the leader's page and the console."""
    parts: list[str] = []
    if answer_form == "safety":
        parts = [f"{label} {data[name]}" for name, label in SAFETY_FIELDS if name in data]
    elif answer_form == "headcount":
        parts = [f"{label} {data[name]}" for name, label in HEADCOUNT_FIELDS if name in data]
    elif answer_form == "yesno" and "choice" in data:
        parts = [YESNO.get(str(data["choice"]), "")]
    if data.get("note"):
        parts.append(f"連絡事項: {data['note']}")
    return "、".join(p for p in parts if p)
