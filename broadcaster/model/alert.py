"""The one normalized Alert, aligned with OASIS CAP 1.2 so that it converts to CAP and back.

Field names follow CAP (camelCase aliases) so that `model_dump(by_alias=True)` is a CAP-shaped
JSON document; the Python attribute names are snake_case.  Fields that CAP does not have
(tenant, event key, source, when we received it) sit beside the CAP fields and are carried in
CAP as documented in broadcaster/cap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from broadcaster.model.timeutil import cap_datetime


class Status(StrEnum):
    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class MsgType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"
    ACK = "Ack"
    ERROR = "Error"


class Scope(StrEnum):
    PUBLIC = "Public"
    RESTRICTED = "Restricted"
    PRIVATE = "Private"


class Category(StrEnum):
    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class ResponseType(StrEnum):
    SHELTER = "Shelter"
    EVACUATE = "Evacuate"
    PREPARE = "Prepare"
    EXECUTE = "Execute"
    AVOID = "Avoid"
    MONITOR = "Monitor"
    ASSESS = "Assess"
    ALL_CLEAR = "AllClear"
    NONE = "None"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


# Orders used by rules ("severity at or above Severe"); Unknown ranks lowest.
SEVERITY_RANK: dict[Severity, int] = {
    Severity.UNKNOWN: 0,
    Severity.MINOR: 1,
    Severity.MODERATE: 2,
    Severity.SEVERE: 3,
    Severity.EXTREME: 4,
}
URGENCY_RANK: dict[Urgency, int] = {
    Urgency.UNKNOWN: 0,
    Urgency.PAST: 1,
    Urgency.FUTURE: 2,
    Urgency.EXPECTED: 3,
    Urgency.IMMEDIATE: 4,
}

# xs:language, which CAP uses for info/language.
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$")]


def _writable_offset(v: datetime) -> datetime:
    # ISO 8601 offsets are whole minutes; a stranger one (a bad clock library) becomes UTC at the
    # same instant, so that every timestamp survives JSON and CAP unchanged.
    offset = v.utcoffset()
    if offset is not None and offset % timedelta(minutes=1):
        return v.astimezone(UTC)
    return v


def _whole_seconds(v: datetime | None) -> datetime | None:
    # CAP carries whole seconds; holding the same precision here keeps Alert → CAP → Alert exact.
    return _writable_offset(v).replace(microsecond=0) if v is not None else None


# CAP forbids white space, commas and the XML-restricted characters < and & in identifiers.
CapToken = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[^\s,<&]+$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class NamedValue(_Frozen):
    """CAP's {valueName, value} pair, used for eventCode, parameter and geocode."""

    value_name: str = Field(alias="valueName", min_length=1)
    value: str


# valueName of geocodes whose value is a tenant's own district id (docs/decisions.md, decision 21).
DISTRICT_CODE = "district"
# valueName for municipality codes of the JIS X 0402 table (6 digits with check digit).
JIS_X0402 = "JIS X 0402"


class Resource(_Frozen):
    resource_desc: str = Field(alias="resourceDesc")
    mime_type: str = Field(alias="mimeType")
    size: int | None = None
    uri: str | None = None
    deref_uri: str | None = Field(default=None, alias="derefUri")
    digest: str | None = None


class Area(_Frozen):
    area_desc: str = Field(alias="areaDesc")
    polygon: tuple[str, ...] = ()
    circle: tuple[str, ...] = ()
    geocode: tuple[NamedValue, ...] = ()
    altitude: float | None = None
    ceiling: float | None = None

    def codes(self, value_name: str | None = None) -> tuple[str, ...]:
        return tuple(g.value for g in self.geocode if value_name is None or g.value_name == value_name)


class Info(_Frozen):
    """One language's view of the alert (CAP `info`)."""

    language: LanguageTag = "ja-JP"
    category: tuple[Category, ...] = Field(min_length=1)
    event: str = Field(min_length=1)
    response_type: tuple[ResponseType, ...] = Field(default=(), alias="responseType")
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    audience: str | None = None
    event_code: tuple[NamedValue, ...] = Field(default=(), alias="eventCode")
    effective: AwareDatetime | None = None
    onset: AwareDatetime | None = None
    expires: AwareDatetime | None = None
    sender_name: str | None = Field(default=None, alias="senderName")
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameter: tuple[NamedValue, ...] = ()
    resource: tuple[Resource, ...] = ()
    area: tuple[Area, ...] = ()

    @field_validator("effective", "onset", "expires")
    @classmethod
    def _seconds(cls, v: datetime | None) -> datetime | None:
        return _whole_seconds(v)

    def event_codes(self, value_name: str | None = None) -> tuple[str, ...]:
        return tuple(c.value for c in self.event_code if value_name is None or c.value_name == value_name)

    def param(self, name: str) -> str | None:
        for p in self.parameter:
            if p.value_name == name:
                return p.value
        return None


class Alert(_Frozen):
    """A normalized alert for one tenant (or, straight out of a parser, for none yet)."""

    identifier: CapToken
    sender: CapToken
    sent: AwareDatetime
    status: Status
    msg_type: MsgType = Field(alias="msgType")
    source: str | None = None
    scope: Scope = Scope.PUBLIC
    restriction: str | None = None
    addresses: str | None = None
    code: tuple[str, ...] = ()
    note: str | None = None
    # CAP: space-separated "sender,identifier,sent" triples of the messages this one refers to.
    references: tuple[str, ...] = ()
    incidents: str | None = None
    info: tuple[Info, ...] = ()

    # Beyond CAP. tenant is None only between a parser and the area matcher.
    tenant: str | None = None
    # Updates and cancellations share the original's event key (docs/decisions.md, decision 3); it is
    # the ordering key on the bus and the key under which a newer message supersedes an older.
    event_key: str = Field(alias="eventKey", min_length=1)
    # Which ingest adapter or person brought it in: "jma", "lalert", "jalert", "cap", "manual".
    origin: str = Field(min_length=1)
    received: AwareDatetime | None = None

    @field_validator("sent")
    @classmethod
    def _sent_seconds(cls, v: datetime) -> datetime:
        return _writable_offset(v).replace(microsecond=0)

    @field_validator("received")
    @classmethod
    def _received_offset(cls, v: datetime | None) -> datetime | None:
        return _writable_offset(v) if v is not None else None

    @model_validator(mode="after")
    def _check(self) -> Alert:
        if self.scope is Scope.RESTRICTED and not self.restriction:
            raise ValueError("scope Restricted needs a restriction")
        if self.scope is Scope.PRIVATE and not self.addresses:
            raise ValueError("scope Private needs addresses")
        if self.msg_type in (MsgType.UPDATE, MsgType.CANCEL) and not self.references:
            raise ValueError(f"msgType {self.msg_type} must reference the message it updates or cancels")
        langs = [i.language for i in self.info]
        if len(set(langs)) != len(langs):
            raise ValueError(f"one info block per language, got {langs}")
        return self

    @property
    def primary(self) -> Info:
        """The Japanese info block (the first), which every other language translates."""
        if not self.info:
            raise ValueError(f"alert {self.identifier} has no info block")
        return self.info[0]

    def info_for(self, language: str) -> Info | None:
        wanted = language.lower()
        for i in self.info:
            if i.language.lower() == wanted or i.language.lower().split("-")[0] == wanted:
                return i
        return None

    @property
    def reference_key(self) -> str:
        """This alert as a CAP reference triple."""
        return f"{self.sender},{self.identifier},{cap_datetime(self.sent)}"

    def referenced_identifiers(self) -> tuple[str, ...]:
        out = []
        for ref in self.references:
            parts = ref.split(",")
            if len(parts) == 3:
                out.append(parts[1])
        return tuple(out)

    def for_tenant(self, tenant: str) -> Alert:
        return self.model_copy(update={"tenant": tenant})

    @property
    def is_drill(self) -> bool:
        return self.status in (Status.EXERCISE, Status.TEST, Status.SYSTEM, Status.DRAFT)
