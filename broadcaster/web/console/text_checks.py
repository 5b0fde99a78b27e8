"""What an officer must confirm before a composed alert goes out: slips the preview can see.

Each is a mistake that reached, or nearly reached, residents in a drill: a template's placeholder
left in (「（避難所名）」), a headline that says 町内全域 while one district is targeted (or names
a district the target leaves out), a 警戒レベル in the text that is not the alert's level. None
is certain to be wrong, so none refuses: each blocks sending until the officer ticks that they
have looked (the send step checks again, whatever the page sent).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from broadcaster.settings import TenantSettings

TEXT_FIELDS = ("headline", "description", "instruction")
# 「（避難所名）」「（日時）」 as the compose templates write placeholders, and any {name} left.
_PLACEHOLDER = re.compile(r"（[^（）\n]{1,12}(?:名|日時|時刻|場所|番号)）|\{[a-z_]{1,40}\}")
_LEVEL = re.compile(r"警戒レベル\s*([1-5１-５])")
_WHOLE_TOWN = ("町内全域", "市内全域", "村内全域", "全域")


@dataclass(frozen=True)
class TextWarning:
    code: str  # placeholder | area_not_targeted | target_not_named | whole_town | level
    ja: str
    en: str

    def text(self, lang: str) -> str:
        return self.en if lang == "en" else self.ja


def _texts(doc: dict[str, Any]) -> str:
    return "\n".join(str(doc.get(f) or "") for f in TEXT_FIELDS)


def check(doc: dict[str, Any], tenant: TenantSettings) -> list[TextWarning]:
    text = _texts(doc)
    out: list[TextWarning] = []
    for found in sorted(set(_PLACEHOLDER.findall(text))):
        out.append(
            TextWarning(
                "placeholder",
                f"文面に埋められていない箇所があります：{found}",
                f"The text still has a placeholder: {found}",
            )
        )
    out.extend(_areas(doc, tenant, text))
    level = doc.get("level")
    for digit in sorted(set(_LEVEL.findall(text))):
        said = int(unicodedata.normalize("NFKC", digit))
        if said != level:
            alert_level = f"レベル{level}" if level else "レベルなし"
            out.append(
                TextWarning(
                    "level",
                    f"文面は警戒レベル{said}ですが、配信の設定は{alert_level}です",
                    f"The text says level {said}; the alert is {'level ' + str(level) if level else 'without a level'}",
                )
            )
    return out


def _areas(doc: dict[str, Any], tenant: TenantSettings, text: str) -> list[TextWarning]:
    target = {str(d["id"]) if isinstance(d, dict) else str(d) for d in doc.get("districts") or []}
    names = {d.id: d.name for d in tenant.districts}
    named = {d_id for d_id, name in names.items() if name and name in text}
    out: list[TextWarning] = []
    headline = str(doc.get("headline") or "")
    if target and any(w in headline for w in _WHOLE_TOWN):
        chosen = "・".join(names.get(d, d) for d in sorted(target))
        out.append(
            TextWarning(
                "whole_town",
                f"見出しは全域ですが、対象は {chosen} だけです",
                f"The headline says the whole town; only {chosen} is targeted",
            )
        )
    if target:
        for d in sorted(named - target):
            out.append(
                TextWarning(
                    "area_not_targeted",
                    f"文面に「{names[d]}」とありますが、対象地区に入っていません",
                    f"The text names {names[d]}, which is not targeted",
                )
            )
        for d in sorted(target - named):
            out.append(
                TextWarning(
                    "target_not_named",
                    f"対象地区「{names.get(d, d)}」が文面にありません",
                    f"The targeted district {names.get(d, d)} is not named in the text",
                )
            )
    elif named:
        listed = "・".join(names[d] for d in sorted(named))
        out.append(
            TextWarning(
                "area_not_targeted",
                f"文面は {listed} についてですが、町内全域に送られます",
                f"The text is about {listed}, but it goes to the whole town",
            )
        )
    return out
