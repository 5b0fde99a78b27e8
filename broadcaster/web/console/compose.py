"""Composing a manual alert: pre-approved texts, the officer's choices, and what would be sent.

What the officer sees in the preview is exactly what is sent: the preview carries a signed digest
of the whole composed alert, and the send step refuses anything that differs (a status toggled
after previewing, a word changed) — the officer must look again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from broadcaster import safety_links
from broadcaster.model import DISTRICT_CODE, Alert, RawEvent
from broadcaster.model.manual import CONTENT_TYPE, ManualAlert, to_alert
from broadcaster.pipeline.two_person import CancelText, tenant_cancel_texts
from broadcaster.settings import Settings, TenantSettings

STATUS_CHOICES = ("Exercise", "Test", "Actual")
# Languages an officer may write a translation for in the compose form; the others (and these,
# when left empty) get the fixed-phrase rendering (docs/templates.md).
HUMAN_LANGUAGES = (("en", "English"), ("vi", "Tiếng Việt"), ("zh-Hans", "简体中文"))


@dataclass(frozen=True)
class Preset:
    id: str
    order: int
    label: dict[str, str]
    fields: dict[str, Any]
    needs_districts: bool

    def text(self, key: str) -> str:
        value = self.fields.get(key) or ""
        return str(value)


# A pre-approved cancellation text; which one an officer may send alone is the two-person
# rule's to say (broadcaster/pipeline/two_person.py).
CancelReason = CancelText


@dataclass
class Draft:
    """The compose form's content, as the officer filled it in."""

    preset: str = ""
    status: str = ""
    districts: list[str] = field(default_factory=list)
    shelters: str = ""
    # Ask residents for a safety answer (安否確認) with this alert (docs/coverage.md).
    safety_check: bool = False
    headline: str = ""
    description: str = ""
    instruction: str = ""
    msg_type: str = "Alert"
    references: list[str] = field(default_factory=list)
    # The digest of the texts the server last filled in: typed text differs from it, and is
    # never replaced without asking (docs/manual-alerts.md, *The compose form*).
    filled: str = ""
    # The texts before the last replacement, for 元に戻す.
    previous: dict[str, str] = field(default_factory=dict)
    # Officer-written translations: language -> {"headline": ..., "description": ...}.
    translations: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def human_languages(self) -> tuple[tuple[str, str], ...]:
        return HUMAN_LANGUAGES

    def texts(self) -> dict[str, str]:
        return {"headline": self.headline, "description": self.description, "instruction": self.instruction}

    def put(self, texts: dict[str, str]) -> None:
        self.headline, self.description, self.instruction = (
            texts["headline"],
            texts["description"],
            texts["instruction"],
        )

    @property
    def typed(self) -> bool:
        """Whether the text fields hold something the server did not put there."""
        return any(self.texts().values()) and text_digest(self.texts()) != self.filled

    @classmethod
    def from_form(cls, form: Any) -> Draft:
        def text(name: str, limit: int) -> str:
            return str(form.get(name, ""))[:limit].strip()

        return cls(
            preset=text("preset", 64),
            status=text("status", 16),
            districts=[str(d)[:64] for d in form.getall("districts", [])][:100],
            shelters=text("shelters", 300),
            safety_check=text("safety_check", 8) == "yes",
            headline=text("headline", 500),
            description=text("description", 5000),
            instruction=text("instruction", 2000),
            msg_type=text("msg_type", 16) or "Alert",
            references=[str(r)[:512] for r in form.getall("references", [])][:10],
            filled=text("filled", 64),
            translations={
                lang: {
                    "headline": text(f"tr_{lang}_headline", 500),
                    "description": text(f"tr_{lang}_description", 5000),
                }
                for lang, _ in HUMAN_LANGUAGES
                if text(f"tr_{lang}_headline", 500) or text(f"tr_{lang}_description", 5000)
            },
            previous={
                key: str(form.get(f"previous_{key}", ""))[:limit]
                for key, limit in (("headline", 500), ("description", 5000), ("instruction", 2000))
                if form.get(f"previous_{key}")
            },
        )


def text_digest(texts: dict[str, str]) -> str:
    canonical = json.dumps(
        [texts.get(k, "").strip() for k in ("headline", "description", "instruction")], ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("_"))


@lru_cache(maxsize=8)
def _load_presets(folder: str, stamp: float) -> tuple[Preset, ...]:
    out = []
    for path in _yaml_files(Path(folder)):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out.append(
            Preset(
                id=str(data["id"]),
                order=int(data.get("order", 100)),
                label={k: str(v) for k, v in (data.get("label") or {}).items()},
                fields=data,
                needs_districts=bool(data.get("needs_districts")),
            )
        )
    return tuple(sorted(out, key=lambda p: p.order))


def _folder(settings: Settings, tenant: str) -> Path:
    own = settings.templates_dir / "tenants" / tenant / "_compose"
    return own if own.is_dir() else settings.templates_dir / "_compose"


def presets(settings: Settings, tenant: str) -> tuple[Preset, ...]:
    folder = _folder(settings, tenant)
    stamp = max((p.stat().st_mtime for p in folder.glob("*.yaml")), default=0.0)
    return _load_presets(str(folder), stamp)


def cancel_reasons(settings: Settings, tenant: str) -> list[CancelReason]:
    return list(tenant_cancel_texts(settings.templates_dir, tenant))


def _fill(template: str, values: dict[str, str]) -> str:
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out


def prefill(preset: Preset, tenant: TenantSettings, districts: list[str], shelters: str) -> dict[str, str]:
    names = {d.id: d.name for d in tenant.districts}
    values = {
        "districts": "・".join(f"{names.get(d, d)}地区" for d in districts) or "町内全域",
        "shelters": shelters or "（避難所名）",
    }
    return {key: _fill(preset.text(key), values) for key in ("headline", "description", "instruction")}


class ComposeError(ValueError):
    pass


def manual_document(draft: Draft, preset: Preset, tenant: TenantSettings) -> dict[str, Any]:
    """The project's manual-alert JSON for this draft (broadcaster/model/manual.py)."""
    if draft.status not in STATUS_CHOICES:
        raise ComposeError("訓練・試験・実際のどれかを選んでください（Choose drill, test or actual）")
    known = {d.id: d.name for d in tenant.districts}
    unknown = [d for d in draft.districts if d not in known]
    if unknown:
        raise ComposeError(f"unknown district(s): {', '.join(unknown)}")
    if preset.needs_districts and not draft.districts:
        raise ComposeError("地区を選んでください（Choose at least one district）")
    if not draft.headline:
        raise ComposeError("見出しを入力してください（A headline is needed）")
    f = preset.fields
    doc: dict[str, Any] = {
        "tenant": tenant.id,
        "status": draft.status,
        "msgType": draft.msg_type,
        "kind": f["kind"],
        "event": f["event"],
        "headline": draft.headline,
        "description": draft.description,
        "instruction": draft.instruction or None,
        "category": f.get("category") or ["Safety"],
        "responseType": f.get("responseType") or [],
        "urgency": f.get("urgency", "Expected"),
        "severity": f.get("severity", "Moderate"),
        "certainty": f.get("certainty", "Likely"),
        "districts": [{"id": d, "name": known[d]} for d in draft.districts],
        "template": preset.id,
    }
    if f.get("level"):
        doc["level"] = int(f["level"])
    if draft.references:
        doc["references"] = draft.references
    if draft.shelters:
        doc["parameters"] = {"shelters": draft.shelters}
    if draft.safety_check:
        doc.setdefault("parameters", {})[safety_links.PARAMETER] = "yes"
    translations = {}
    for lang, texts in draft.translations.items():
        if not texts.get("headline"):
            raise ComposeError(f"{lang}: 翻訳の見出しを入れてください（A translation needs its headline）")
        translations[lang] = {k: v for k, v in texts.items() if v}
    if translations:
        doc["translations"] = translations
    try:
        ManualAlert.model_validate(doc)
    except ValidationError as e:
        raise ComposeError(
            "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()[:3])
        ) from e
    return doc


def preview_alert(
    doc: dict[str, Any], tenant: TenantSettings, officer: str, raw_id: str | None = None
) -> Alert:
    """The Alert the pipeline will make of this document (for previews and counts).

    With the `raw_id` it will be sent under, its identifier, and so every link in its texts, is
    the one the sent alert will have.
    """
    raw = RawEvent(
        **({"id": raw_id} if raw_id else {}),
        source="manual",
        content_type=CONTENT_TYPE,
        body=json.dumps(doc, ensure_ascii=False).encode("utf-8"),
        tenant=tenant.id,
        submitted_by=officer,
    )
    manual = ManualAlert.model_validate(doc)
    alert = to_alert(manual, raw)
    return alert


def digest(doc: dict[str, Any], secret: bytes, raw_id: str = "") -> str:
    """A signature over exactly what was previewed (and the id it will be sent under)."""
    signed: Any = [doc, raw_id] if raw_id else doc
    canonical = json.dumps(signed, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hmac.new(secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def same(doc: dict[str, Any], secret: bytes, sent_digest: str, raw_id: str = "") -> bool:
    return hmac.compare_digest(digest(doc, secret, raw_id), sent_digest)


def from_original(draft: Draft, original: Alert, tenant: TenantSettings) -> None:
    """Fill a correction's draft from the alert it corrects: status, districts, template, texts."""
    info = original.primary
    draft.status = original.status.value if original.status.value in STATUS_CHOICES else ""
    known = {d.id for d in tenant.districts}
    draft.districts = [code for area in info.area for code in area.codes(DISTRICT_CODE) if code in known]
    draft.preset = info.param("broadcaster:template") or draft.preset
    draft.shelters = info.param("shelters") or ""
    draft.safety_check = safety_links.asks(original)
    draft.put(
        {
            "headline": info.headline or "",
            "description": info.description or "",
            "instruction": info.instruction or "",
        }
    )
    draft.filled = text_digest(draft.texts())


@dataclass(frozen=True)
class Change:
    field: str  # the i18n key of the field's label
    before: str
    after: str


def changes(original: Alert, update: Alert) -> list[Change]:
    """What a correction changes, field by field, for the preview to highlight."""
    a, b = original.primary, update.primary

    def areas(info: Any) -> str:
        return "・".join(area.area_desc for area in info.area)

    pairs = [
        ("status_label", original.status.value, update.status.value),
        ("event", a.event, b.event),
        ("headline", a.headline or "", b.headline or ""),
        ("description", a.description or "", b.description or ""),
        ("instruction", a.instruction or "", b.instruction or ""),
        ("districts", areas(a), areas(b)),
        ("shelters", a.param("shelters") or "", b.param("shelters") or ""),
    ]
    return [Change(key, before, after) for key, before, after in pairs if before.strip() != after.strip()]
