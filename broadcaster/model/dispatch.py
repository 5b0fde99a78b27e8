"""Dispatch: one (alert, channel, audience, batch) to send, fixed when routing decides it."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from broadcaster.model.alert import Alert


class Priority(StrEnum):
    """Channel workers take higher priorities first when several dispatches wait."""

    FLASH = "flash"  # life-threatening now: tsunami, EEW, missile, 避難指示 and above
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Explanation(BaseModel):
    """Why the rules engine made this dispatch; kept with it for the officer and the auditor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    source: str = ""  # file:line of the rule
    reasons: tuple[str, ...] = ()


def idempotency_key(tenant: str, alert_identifier: str, channel: str, audience: str, batch: int) -> str:
    """hash(tenant, alert identifier, channel, audience, batch) (docs/decisions.md, decision 1).

    The same decision made twice (a redelivered alert, the same telegram on two feeds) yields the
    same key, so the ledger and providers that honour keys drop the repeat. Unit separators keep
    ("a", "bc") and ("ab", "c") apart.
    """
    material = "\x1f".join((tenant, alert_identifier, channel, audience, str(batch)))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


class Dispatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    alert_id: str
    event_key: str
    channel: str
    audience: str
    batch: int = Field(ge=0)
    batch_count: int = Field(ge=1)
    # Fixed at creation so that a retry resends exactly this batch; empty for audiences a channel
    # reaches as a whole (a website, a LINE broadcast, an SNS account).
    recipients: tuple[str, ...] = ()
    template: str
    languages: tuple[str, ...] = ("ja",)
    # This alert's place among the messages of its event for the tenant (1 = the first), for
    # channels that number revisions (L-Alert) whatever the alert itself references.
    revision: int = Field(default=1, ge=1)
    priority: Priority = Priority.NORMAL
    requires_approval: bool = False
    explanation: Explanation
    created: AwareDatetime
    # When this dispatch should have been sent at the latest; the ledger re-drives it after.
    deadline: AwareDatetime

    @property
    def key(self) -> str:
        return idempotency_key(self.tenant, self.alert_id, self.channel, self.audience, self.batch)

    @property
    def bus_key(self) -> str:
        # Keyed by event and batch: an update or cancel lands after its original in the same
        # partition, while the batches of one big audience spread across partitions.
        return f"{self.tenant}|{self.event_key}|{self.audience}|{self.batch}"


class DispatchOrder(BaseModel):
    """What travels on a dispatch.<channel> topic: the dispatch and the alert it carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dispatch: Dispatch
    alert: Alert
