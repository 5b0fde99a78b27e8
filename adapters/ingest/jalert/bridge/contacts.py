"""Contact outputs (接点): a receiver's rule closes a contact; the bridge sends a fixed message.

A contact says only which rule fired, never the message's text, stage or area. Each contact is
therefore mapped to a type, and each type to a text the town approved beforehand (its own, or the
ones below). The texts avoid any stage word (発射, 直ちに避難, 通過 …) so that a contact is never
taken for a particular stage: the receiver's mail or JMA's feed, when they come, carry the detail
and are merged with it (docs/architecture.md, *One alert per real change*).

A script watching the contact inputs (a contact-input unit's own tool, a GPIO reader) calls the
bridge's local hook: `POST /contact/<name>` (docs/jalert.md, *Contact outputs*).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters.ingest.jalert.bridge.compose import iso, jalert_text
from broadcaster.model import JST

ContactType = Literal["missile", "civil_protection", "eew", "tsunami", "special_warning", "volcano", "test"]


@dataclass(frozen=True, slots=True)
class Approved:
    category: str
    title: str
    text: str
    status: str = "実運用"


# The shipped pre-approved texts, one per type. A town replaces any of them with its own approved
# wording (`text` in the contact's settings); never with anything longer than a warning needs.
APPROVED: dict[str, Approved] = {
    "missile": Approved(
        "missile",
        "国民保護情報（ミサイル）",
        "ミサイルに関する国民保護情報が発表されました。屋内に避難し、テレビ・ラジオ等の情報に注意してください。",
    ),
    "civil_protection": Approved(
        "civil_protection",
        "国民保護情報",
        "国民保護に関する情報が発表されました。屋内に避難し、テレビ・ラジオ等の情報に注意してください。",
    ),
    "eew": Approved(
        "eew",
        "緊急地震速報",
        "緊急地震速報です。強い揺れに警戒してください。身の安全を確保してください。",
    ),
    "tsunami": Approved(
        "tsunami",
        "津波に関する警報",
        "津波に関する警報が発表されました。海岸や川沿いから離れ、高い所へ避難してください。",
    ),
    "special_warning": Approved(
        "special_warning",
        "特別警報",
        "特別警報が発表されました。命を守る行動をとってください。テレビ・ラジオ等で情報を確認してください。",
    ),
    "volcano": Approved(
        "volcano",
        "噴火に関する警報",
        "噴火に関する警報が発表されました。危険な場所から離れ、情報に注意してください。",
    ),
    "test": Approved("other", "Jアラート試験", "これはJアラートの試験です。", status="試験"),
}


class ContactSettings(BaseModel):
    """One contact input: `[contacts.<name>]` in the bridge's settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ContactType
    # Whose health a signal counts for (settings' [[receivers]] name); the only receiver by default.
    receiver: str | None = None
    # The town's own approved text instead of the shipped one.
    text: str | None = Field(default=None, min_length=1, max_length=1000)
    title: str | None = Field(default=None, min_length=1, max_length=100)


def contact_message(name: str, contact: ContactSettings, receiver: str, at: datetime | None = None) -> bytes:
    """The jalert/1 message one signal of this contact sends."""
    at = (at or datetime.now(UTC)).astimezone(JST)
    approved = APPROVED[contact.type]
    stamp = at.strftime("%Y%m%dT%H%M%S") + f"{at.microsecond // 1000:03d}"
    return jalert_text(
        {
            "id": f"contact-{receiver}-{name}-{stamp}",
            "sent": iso(at),
            "status": approved.status,
            "category": approved.category,
            "title": contact.title or approved.title,
            "text": contact.text or approved.text,
            "via": "contact",
            "receiver": receiver,
            "rule": f"contact:{name}",
        },
        comment=f"contact output {name} ({contact.type}) of receiver {receiver}",
    )
