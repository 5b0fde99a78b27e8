"""Receipt: what happened to one attempt of one dispatch."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ReceiptStatus(StrEnum):
    ACCEPTED = "accepted"  # the provider took it (or the outbox recorded it)
    FAILED = "failed"  # this attempt failed; another will follow
    DEAD = "dead"  # no more attempts: permanent error or retry budget spent
    SUPERSEDED = "superseded"  # a newer message for the same event made this one moot
    RECORDED = "recorded"  # deliberately not sent (a cancel of something never sent here)


FINAL_STATUSES = frozenset(
    {ReceiptStatus.ACCEPTED, ReceiptStatus.DEAD, ReceiptStatus.SUPERSEDED, ReceiptStatus.RECORDED}
)


class Hops(BaseModel):
    """When the message passed each stage: ingest-to-send latency and skew come from here."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    received: AwareDatetime | None = None  # ingest adapter took the raw bytes
    normalized: AwareDatetime | None = None
    routed: AwareDatetime | None = None
    send_started: AwareDatetime | None = None
    sent: AwareDatetime | None = None  # the provider answered


class Receipt(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dispatch_key: str
    tenant: str
    alert_id: str
    channel: str
    audience: str
    batch: int
    attempt: int = Field(ge=1)
    status: ReceiptStatus
    # "live" when a real provider answered, "outbox" when the channel had no credentials.
    mode: str
    provider_ref: str | None = None
    recipients: int = 0
    hops: Hops
    error: str | None = None
    retriable: bool | None = None

    @property
    def latency_ms(self) -> float | None:
        if self.hops.received is None or self.hops.sent is None:
            return None
        return (self.hops.sent - self.hops.received).total_seconds() * 1000
