"""An officer's alert: the project's own document (docs/manual-alerts.md) and the alert it becomes.

The core owns it: the console, the API and the scheduler write it, the manual parser
(adapters/ingest/manual.py) reads it off the wire, and all of them name the alert it becomes by
`manual_alert_id`. It is deliberately strict: `status` has no default, so a drill can never become
Actual by omission, and unknown fields are refused rather than ignored.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from broadcaster.errors import ParseError
from broadcaster.model.alert import (
    DISTRICT_CODE,
    Alert,
    Area,
    Category,
    Certainty,
    Info,
    MsgType,
    NamedValue,
    ResponseType,
    Severity,
    Status,
    Urgency,
)
from broadcaster.model.kinds import KIND, LEVEL, Kind
from broadcaster.model.raw import MANUAL_CONTENT_TYPE, RawEvent

CONTENT_TYPE = MANUAL_CONTENT_TYPE

# How many of the raw event id's hex digits the alert's identifier keeps.
_RAW_PART = 24


def manual_alert_id(tenant: str, raw_id: str) -> str:
    """The identifier of the alert made from the officer's raw event `raw_id` of `tenant`."""
    return f"m-{tenant}-{raw_id[:_RAW_PART]}"


def raw_part_of(tenant: str, alert_id: str) -> str | None:
    """The raw event id's prefix a manual alert id of `tenant` carries; None if it is not one."""
    prefix = f"m-{tenant}-"
    part = alert_id.removeprefix(prefix)
    if not alert_id.startswith(prefix) or not re.fullmatch(rf"[0-9a-f]{{{_RAW_PART}}}", part):
        return None
    return part


def _written_time(value: Any) -> Any:
    # JSON has no time type: a time is text (ISO 8601 with its offset). Pydantic would also take a
    # number as seconds since 1970, which no officer means (an API fuzzer sent 1.4e-45 and got
    # an alert effective in 1970).
    if isinstance(value, str | datetime) or value is None:
        return value
    raise ValueError("a time is ISO 8601 text with its offset, e.g. 2026-11-22T03:00:00+09:00")


WrittenTime = Annotated[AwareDatetime, BeforeValidator(_written_time)]


def _whole_number(value: Any) -> Any:
    # As JSON Schema counts integers: 4 and 4.0, never "4" or true (pydantic would take both).
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError("the level is a whole number from 1 to 5")


Level = Annotated[int, Field(ge=1, le=5), BeforeValidator(_whole_number)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Translation(_Strict):
    event: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None


class ManualDistrict(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str | None = None


class ManualAlert(_Strict):
    tenant: str | None = None
    status: Literal["Actual", "Exercise", "Test", "System", "Draft"]
    msg_type: Literal["Alert", "Update", "Cancel"] = Field(default="Alert", alias="msgType")
    references: list[str] = Field(default_factory=list)
    event_key: str | None = Field(default=None, alias="eventKey")
    kind: Kind
    level: Level | None = None
    event: str = Field(min_length=1, max_length=200)
    headline: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=20000)
    instruction: str | None = Field(default=None, max_length=5000)
    category: list[Category] = Field(default_factory=lambda: [Category.SAFETY], min_length=1)
    response_type: list[ResponseType] = Field(default_factory=list, alias="responseType")
    urgency: Urgency = Urgency.EXPECTED
    severity: Severity = Severity.MODERATE
    certainty: Certainty = Certainty.LIKELY
    districts: list[str | ManualDistrict] = Field(default_factory=list)
    area_desc: str | None = Field(default=None, alias="areaDesc")
    parameters: dict[str, str] = Field(default_factory=dict)
    effective: WrittenTime | None = None
    expires: WrittenTime | None = None
    sent: WrittenTime | None = None
    translations: dict[str, Translation] = Field(default_factory=dict)
    template: str | None = None


def to_alert(m: ManualAlert, raw: RawEvent) -> Alert:
    """The alert an officer's document becomes; `raw` is the event that carried it (its tenant set)."""
    assert raw.tenant is not None
    tenant = raw.tenant
    identifier = manual_alert_id(tenant, raw.id)
    sender = f"{tenant}@broadcaster"
    sent: datetime = m.sent or raw.received
    if m.msg_type != "Alert" and not m.references:
        raise ParseError("missing_references", f"a {m.msg_type} must name the alert(s) it follows")
    references = tuple(_reference(r, sender) for r in m.references)
    event_key = m.event_key or (
        f"manual|{tenant}|{_identifier_of(m.references[0])}"
        if m.references
        else f"manual|{tenant}|{identifier}"
    )
    codes = [NamedValue(value_name=KIND, value=m.kind.value)]
    params = [NamedValue(value_name=k, value=v) for k, v in sorted(m.parameters.items())]
    if m.level is not None:
        params.insert(0, NamedValue(value_name=LEVEL, value=str(m.level)))
    if m.template:
        params.append(NamedValue(value_name="broadcaster:template", value=m.template))
    areas = _areas(m)

    def info(language: str, t: Translation | None) -> Info:
        return Info(
            language=language,
            category=tuple(m.category),
            event=(t.event if t and t.event else m.event),
            response_type=tuple(m.response_type),
            urgency=m.urgency,
            severity=m.severity,
            certainty=m.certainty,
            event_code=tuple(codes),
            effective=m.effective,
            expires=m.expires,
            sender_name=None,
            headline=(t.headline if t and t.headline else m.headline),
            description=(t.description if t and t.description else m.description) or None,
            instruction=(t.instruction if t and t.instruction else m.instruction),
            parameter=tuple(params),
            area=areas,
        )

    infos = [info("ja-JP", None)]
    infos.extend(
        info(lang, tr) for lang, tr in sorted(m.translations.items()) if not lang.lower().startswith("ja")
    )
    return Alert(
        identifier=identifier,
        sender=sender,
        sent=sent,
        status=Status(m.status),
        msg_type=MsgType(m.msg_type),
        source=raw.submitted_by,
        references=references,
        info=tuple(infos),
        tenant=tenant,
        event_key=event_key,
        origin="manual",
        received=raw.received,
    )


def _areas(m: ManualAlert) -> tuple[Area, ...]:
    areas = []
    for d in m.districts:
        district = d if isinstance(d, ManualDistrict) else ManualDistrict(id=d)
        areas.append(
            Area(
                area_desc=district.name or district.id,
                geocode=(NamedValue(value_name=DISTRICT_CODE, value=district.id),),
            )
        )
    if not areas:
        # No district named: the whole municipality. The normalize stage adds its codes.
        areas.append(Area(area_desc=m.area_desc or "全域"))
    return tuple(areas)


def _reference(ref: str, sender: str) -> str:
    # Officers name earlier alerts by identifier; CAP wants "sender,identifier,sent".
    if ref.count(",") == 2:
        return ref
    return f"{sender},{ref},"


def _identifier_of(ref: str) -> str:
    return ref.split(",")[1] if ref.count(",") == 2 else ref
