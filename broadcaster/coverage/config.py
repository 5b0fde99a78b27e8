"""The coverage settings section ([coverage] in the TOML file, BROADCASTER_COVERAGE__*).

Kept apart from broadcaster/settings.py so that the section and the code reading it change
together; settings.py only mounts it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class CoverageSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # A district whose share of households reached is under `flag_share` once `flag_after_min`
    # minutes have passed since the alert was received is flagged (red in the console), and its
    # leader is sent the list of households not reached.
    flag_share: float = Field(default=0.8, gt=0, le=1)
    flag_after_min: float = Field(default=30.0, ge=0)
    # Alerts of these CAP statuses send the flag to the leaders; the others (a drill) only show it.
    flag_statuses: list[str] = Field(default_factory=lambda: ["Actual"])
    # How long after an alert was received its districts are still watched and flagged.
    watch_hours: float = Field(default=24.0, gt=0)
    # How long a resident's safety-check link answers after the alert was sent.
    safety_days: float = Field(default=7.0, gt=0)
    # Reach marks, safety answers and flags are deleted once their alert is older than this.
    retention_days: float = Field(default=30.0, gt=0)
    # The support list (docs/support.md): entries without consent are shown to the district's
    # leaders while an Actual alert of these kinds, received this many hours ago at most and not
    # cancelled, is in force.
    support_alert_kinds: list[str] = Field(default_factory=lambda: ["evacuation", "tsunami", "special_warning", "earthquake"])
    support_event_hours: float = Field(default=24.0, gt=0)
    # The district view: <maps_dir>/<tenant>.geojson, the districts' outlines (docs/coverage.md).
    # Without one, the console shows the table alone.
    maps_dir: Path | None = None
