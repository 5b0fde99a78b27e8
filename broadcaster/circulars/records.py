"""Rows of the circular tables as the rest of the package sees them (frozen, typed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

STEPS = ("remind", "deputy", "officers")


class CircularState(StrEnum):
    """A circular's `state` column: ``scheduled`` (a routine one waiting for its time) →
    ``released`` (its deliveries made) → ``superseded`` (a newer circular of the same event) or
    ``cancelled``."""

    SCHEDULED = "scheduled"
    RELEASED = "released"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"


class NoticeState(StrEnum):
    """A notice's `state` column: ``pending`` → ``sent``, or ``failed`` (retried later) … →
    ``dead`` (given up); ``dropped`` when its circular was cancelled before it went out."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class Circular:
    id: str
    tenant: str
    origin: str  # emergency | routine
    kind: str
    alert_id: str | None
    event_key: str | None
    status: str
    priority: str
    title: str
    body: str
    texts: dict[str, dict[str, Any]]
    form: str
    question: str | None
    districts: tuple[str, ...]
    state: str
    due: datetime | None
    release_at: datetime | None
    released_at: datetime | None
    created: datetime
    created_by: str

    @property
    def is_drill(self) -> bool:
        return self.status != "Actual"

    @classmethod
    def of(cls, r: sa.Row[Any]) -> Circular:
        return cls(
            id=r.id,
            tenant=r.tenant,
            origin=r.origin,
            kind=r.kind,
            alert_id=r.alert_id,
            event_key=r.event_key,
            status=r.status,
            priority=r.priority,
            title=r.title,
            body=r.body,
            texts=dict(r.texts or {}),
            form=r.form,
            question=r.question,
            districts=tuple(r.districts or ()),
            state=r.state,
            due=r.due,
            release_at=r.release_at,
            released_at=r.released_at,
            created=r.created,
            created_by=r.created_by,
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    circular_id: str
    tenant: str
    recipient: str
    subscriber_id: int | None
    role: str
    district: str | None
    name: str | None
    title: str | None
    link_version: int
    created: datetime
    opened_at: datetime | None
    confirmed_at: datetime | None
    answered_at: datetime | None
    remind_due: datetime | None
    deputy_due: datetime | None
    officers_due: datetime | None
    reminded_at: datetime | None
    deputy_at: datetime | None
    officers_at: datetime | None

    def due(self, step: str) -> datetime | None:
        return {"remind": self.remind_due, "deputy": self.deputy_due, "officers": self.officers_due}[step]

    def taken(self, step: str) -> datetime | None:
        return {"remind": self.reminded_at, "deputy": self.deputy_at, "officers": self.officers_at}[step]

    @property
    def who(self) -> str:
        """How the console names the person: title and name, or the role."""
        title = self.title or ("区長" if self.role == "leader" else "副区長")
        return f"{title} {self.name}" if self.name else title

    @classmethod
    def of(cls, r: sa.Row[Any]) -> Delivery:
        return cls(**{f: getattr(r, f) for f in cls.__slots__})


@dataclass(frozen=True, slots=True)
class Target:
    """A person to deliver a circular to, resolved from their e-circular address."""

    recipient: str
    subscriber_id: int | None
    role: str
    district: str | None
    name: str | None = None
    title: str | None = None
    # The notify channels (settings.circulars.notify_channels) they have an address on.
    channels: tuple[str, ...] = ()
    dues: dict[str, datetime | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notice:
    key: str
    delivery_id: str
    circular_id: str
    tenant: str
    purpose: str
    channel: str
    state: str
    attempts: int
    next_attempt: datetime | None

    @classmethod
    def of(cls, r: sa.Row[Any]) -> Notice:
        return cls(**{f: getattr(r, f) for f in cls.__slots__})


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    id: str
    filename: str
    content_type: str
    size: int

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
