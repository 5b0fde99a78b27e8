"""The rule file format (rules/<tenant>/*.yaml), as pydantic models: what a rule may say.

docs/rules.md is the reference for the people who edit these files. Every field here is named as
it is written in YAML; anything unknown is refused with its file and line, so that a misspelt
condition can never silently match everything.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from broadcaster.audience import topic_name
from broadcaster.model import Certainty, Kind, MsgType, Priority, Severity, Status, Urgency
from broadcaster.rules.scales import intensity_rank

_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

DAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "月": 0, "火": 1, "水": 2, "木": 3, "金": 4, "土": 5, "日": 6,
}


def parse_duration(value: Any) -> timedelta:
    """'90s', '15m', '2h', '1h30m' (or a number of minutes)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(minutes=float(value))
    m = _DURATION.match(str(value))
    if not m or not any(m.groups()):
        raise ValueError(f"{value!r} is not a duration such as 90s, 15m, 2h or 1h30m")
    h, mi, s = (int(x) if x else 0 for x in m.groups())
    return timedelta(hours=h, minutes=mi, seconds=s)


def parse_clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 21:00 as the sexagesimal number 1260.
        value = f"{value // 60:02d}:{value % 60:02d}"
    m = _CLOCK.match(str(value).strip())
    if not m:
        raise ValueError(f"{value!r} is not a time of day such as 07:00")
    return time(int(m.group(1)), int(m.group(2)))


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Clock = Annotated[time, BeforeValidator(parse_clock)]


def _listify(v: Any) -> Any:
    # `kind: earthquake` is as readable as `kind: [earthquake]`; accept both.
    return [v] if isinstance(v, str | int | float) and not isinstance(v, bool) else v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Window(_Strict):
    """A daily window in JST, e.g. from 21:00 to 07:00 (across midnight), optionally on some days."""

    start: Clock = Field(alias="from")
    end: Clock = Field(alias="to")
    days: list[str] | None = None

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, v: Any) -> Any:
        v = _listify(v)
        if v is not None:
            for d in v:
                if str(d).lower() not in DAYS:
                    raise ValueError(f"{d!r} is not a day: mon..sun or 月..日")
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end:
            raise ValueError("from and to are the same time: the window is empty")
        return self

    def day_numbers(self) -> frozenset[int] | None:
        return None if self.days is None else frozenset(DAYS[str(d).lower()] for d in self.days)


class Compare(_Strict):
    """A test on a parameter's values; any one value that passes is enough."""

    at_least: str | float | None = None
    at_most: str | float | None = None
    equals: str | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    contains: str | None = None
    present: bool | None = None

    @field_validator("equals", "contains", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float | bool) else v

    @field_validator("in_", mode="before")
    @classmethod
    def _texts(cls, v: Any) -> Any:
        v = _listify(v)
        return [str(x) for x in v] if isinstance(v, list) else v

    @field_validator("at_least", "at_most")
    @classmethod
    def _orderable(cls, v: str | float | None) -> str | float | None:
        if isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                if intensity_rank(v) is None:
                    raise ValueError(f"{v!r} is neither a number nor a seismic intensity (1..4, 5-, 5+, 6-, 6+, 7)") from None
        return v

    @model_validator(mode="after")
    def _something(self) -> Compare:
        if all(getattr(self, f) is None for f in type(self).model_fields):
            raise ValueError("say what to compare: at_least, at_most, equals, in, contains or present")
        return self


class Match(_Strict):
    """Conditions; all that are given must hold. None given: every alert."""

    kind: list[Kind] | None = None
    status: list[Status] | None = None
    msg_type: list[MsgType] | None = None
    origin: list[str] | None = None
    event: list[str] | None = None
    event_code: dict[str, list[str]] | None = None
    severity: list[Severity] | None = None
    severity_at_least: Severity | None = None
    urgency: list[Urgency] | None = None
    urgency_at_least: Urgency | None = None
    certainty: list[Certainty] | None = None
    certainty_at_least: Certainty | None = None
    # 警戒レベル in the tenant's own areas (the alert's level when it has no per-area levels)
    level_at_least: int | None = Field(default=None, ge=1, le=5)
    level_at_most: int | None = Field(default=None, ge=1, le=5)
    # 震度 in the tenant's own areas: 1..4, 5-, 5+, 6-, 6+, 7 (or 5弱, 5強, 6弱, 6強)
    intensity_at_least: str | None = None
    # warnings in force in the tenant's own areas, by JMA's name (大雨警報, 大津波警報, ...)
    warnings: list[str] | None = None
    # districts of the tenant the alert names; `any` / `none` for whether it names any
    districts: list[str] | None = None
    areas: dict[str, list[str]] | None = None
    parameters: dict[str, Compare] | None = None
    time: Window | None = None

    @field_validator(
        "kind", "status", "msg_type", "origin", "event", "severity", "urgency", "certainty", "warnings",
        "districts", mode="before",
    )
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return _listify(v)

    @field_validator("event_code", "areas", mode="before")
    @classmethod
    def _code_lists(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: [str(x) for x in (_listify(x) or [])] for k, x in v.items()}
        return v

    @field_validator("intensity_at_least", mode="before")
    @classmethod
    def _intensity(cls, v: Any) -> Any:
        if v is None:
            return v
        v = str(v)
        if intensity_rank(v) is None:
            raise ValueError(f"{v!r} is not a seismic intensity: 1, 2, 3, 4, 5-, 5+, 6-, 6+, 7")
        return v

    def is_empty(self) -> bool:
        return all(getattr(self, f) is None for f in type(self).model_fields)


class Dedupe(_Strict):
    """Send once per window what the rule considers the same (e.g. warnings unchanged in town)."""

    window: Duration
    by: list[str] = Field(default_factory=lambda: ["kind", "event"])

    @field_validator("by", mode="before")
    @classmethod
    def _by(cls, v: Any) -> Any:
        v = _listify(v)
        for item in v or []:
            if item not in DEDUPE_FIELDS and not str(item).startswith("parameter:"):
                raise ValueError(f"dedupe by {item!r}: one of {', '.join(DEDUPE_FIELDS)} or parameter:<name>")
        return v

    @field_validator("window")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("the window must be longer than zero")
        return v


DEDUPE_FIELDS = ("kind", "event", "event_key", "headline", "level", "intensity", "warnings", "districts")


class Escalation(_Strict):
    """If the leaders have not acknowledged `after` the send, reach the next people."""

    after: Duration
    audience: str = "deputies"
    channels: list[str] = Field(min_length=1)

    @field_validator("channels", mode="before")
    @classmethod
    def _channels(cls, v: Any) -> Any:
        return _listify(v)

    @field_validator("audience")
    @classmethod
    def _audience(cls, v: str) -> str:
        base = v.split(":", 1)[0]
        if base not in ("deputies", "leaders", "officers"):
            raise ValueError("an escalation goes to deputies, leaders or officers (officers:<group>)")
        return v


AUDIENCE_WORDS = ("public", "district", "leaders", "deputies", "officers")


class Rule(_Strict):
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    default: bool = False
    match: Match = Match()
    unless: Match | None = None
    channels: list[str] = Field(min_length=1)
    audiences: list[str] = Field(default_factory=lambda: ["public"], min_length=1)
    topic: str | None = None
    template: str = "auto"
    priority: Priority = Priority.NORMAL
    require_approval: bool = False
    # Ask the residents it reaches for a safety answer (安否確認, docs/coverage.md): the alert
    # gets the `safety_check` parameter, as the console's tick gives it.
    safety_check: bool = False
    delay: Duration | None = None
    quiet_hours: Window | None = None
    dedupe: Dedupe | None = None
    escalate: list[Escalation] = Field(default_factory=list)
    # false: the first matching rule decides alone; true: later rules may add to it
    continue_: bool = Field(default=False, alias="continue")
    where: str = ""  # file:line, filled by the loader

    @model_validator(mode="before")
    @classmethod
    def _audience_alias(cls, data: Any) -> Any:
        # `audience: district` reads better for one; `audiences: [...]` for several.
        if isinstance(data, dict) and "audience" in data:
            if "audiences" in data:
                raise ValueError("give either audience or audiences, not both")
            data = {**data, "audiences": _listify(data["audience"])}
            del data["audience"]
        return data

    @field_validator("channels", "audiences", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return _listify(v)

    @field_validator("audiences")
    @classmethod
    def _audiences(cls, v: list[str]) -> list[str]:
        for a in v:
            base, _, scope = a.partition(":")
            if base not in AUDIENCE_WORDS or (base == "public" and scope) or (base == "district" and ":" in scope):
                raise ValueError(
                    f"audience {a!r}: public, district, leaders, deputies, officers, "
                    "or district:<id>, leaders:<id>, deputies:<id>, officers:<group>"
                )
        return v

    @field_validator("topic")
    @classmethod
    def _topic(cls, v: str | None) -> str | None:
        return None if v is None or v in ("none", "all") else topic_name(v)

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.default and (not self.match.is_empty() or self.unless is not None):
            raise ValueError("the default rule has no match or unless: it applies when no other rule did")
        if self.default and self.continue_:
            raise ValueError("the default rule is the last word: it cannot continue")
        if (self.delay or self.quiet_hours) and self.priority is Priority.FLASH:
            raise ValueError("a flash rule is never delayed: remove delay/quiet_hours or lower the priority")
        return self
