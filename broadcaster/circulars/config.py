"""The circulars' settings section ([circulars] in the TOML file, BROADCASTER_CIRCULARS__*).

Kept apart from broadcaster/settings.py so that the section and the code reading it change
together; settings.py only mounts it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

FormKind = Literal["none", "safety", "headcount", "yesno"]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Timing(_Section):
    """Minutes after a leader was sent a circular; None skips the step."""

    # No confirmation yet: the leader is reminded on their own channels.
    remind_after_min: float | None = Field(default=None, gt=0)
    # Still none: the deputies of the leader's district get the circular with links of their own.
    deputy_after_min: float | None = Field(default=None, gt=0)
    # Still none: a System alert tells the tenant's officers, with the leader's phone numbers.
    officers_after_min: float | None = Field(default=None, gt=0)


def _timings() -> dict[str, Timing]:
    # Scenario 3: the deputy after 15 minutes, the duty officer after 30. A routine circular
    # (ごみ収集日の変更) is worth a reminder the next day and nobody's phone call.
    urgent = Timing(remind_after_min=5, deputy_after_min=15, officers_after_min=30)
    return {
        "emergency": urgent,
        "shelter": Timing(remind_after_min=10, deputy_after_min=30, officers_after_min=60),
        "routine": Timing(remind_after_min=24 * 60),
        # A district flagged as under-reached (docs/coverage.md): its households are waiting.
        "coverage": Timing(remind_after_min=10, deputy_after_min=20, officers_after_min=40),
    }


def _forms() -> dict[str, FormKind]:
    # What a rule-made circular asks back, by the alert's kind (others: confirmation only).
    return {
        "evacuation": "safety",
        "earthquake": "safety",
        "tsunami": "safety",
        "special_warning": "safety",
        "shelter": "headcount",
    }


class CircularSettings(_Section):
    # The HMAC key of the leaders' personal links (`openssl rand -hex 32`). Without it no link can
    # be signed, and the circular channel runs in outbox mode as every channel without credentials.
    link_key: SecretStr | None = None
    # Keys that were current before a rotation: links signed with them still open until they expire.
    old_link_keys: list[SecretStr] = Field(default_factory=list)
    link_days: float = Field(default=14.0, gt=0, le=366)
    # The leader's channels a link is sent on, each one they have an address for.
    notify_channels: list[str] = Field(default_factory=lambda: ["line", "app_push", "email"])
    # By circular kind: an alert kind (evacuation, shelter...), "emergency" for other alert kinds,
    # "routine" for officers' notices.
    timing: dict[str, Timing] = Field(default_factory=_timings)
    forms: dict[str, FormKind] = Field(default_factory=_forms)
    # Attachments (PDF, PNG, JPEG): per file; the whole form is also bounded by web.max_body_bytes.
    max_attachment_bytes: int = Field(default=2_000_000, ge=1024)
    max_attachments: int = Field(default=5, ge=0, le=20)
    # Requests to the leaders' pages per client address per minute: generous, because mobile
    # carriers put many phones behind one address (CGNAT) and a whole town's leaders answer at
    # once in a disaster. Refused links per address per minute: few, they only come from guessing.
    page_requests_per_minute: int = Field(default=300, ge=1)
    bad_links_per_minute: int = Field(default=10, ge=1)
    # A notice (a link on LINE, an e-mail) that keeps failing is given up after this many tries.
    notice_max_attempts: int = Field(default=6, ge=1)

    @field_validator("link_key")
    @classmethod
    def _long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value().encode("utf-8")) < 32:
            raise ValueError("circulars.link_key needs at least 32 bytes (e.g. `openssl rand -hex 32`)")
        return v

    def timing_for(self, kind: str, *, emergency: bool) -> Timing:
        found = self.timing.get(kind)
        if found is not None:
            return found
        return self.timing.get("emergency" if emergency else "routine") or Timing()
