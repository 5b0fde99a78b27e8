"""What the rules decide: one Decision per (channel, audience), with the reasons for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broadcaster.model import Explanation, Priority


@dataclass(frozen=True, slots=True)
class DedupeMark:
    """Send at most once per `window_s` to a (channel, audience) what carries the same mark."""

    mark: str  # a hash of the values compared
    window_s: float
    text: str  # the values, for the explanation and the log


@dataclass(frozen=True, slots=True)
class Decision:
    channel: str
    audience: str  # a concrete audience name (broadcaster/audience.py)
    template: str
    priority: Priority
    requires_approval: bool
    explanation: Explanation
    # Not to be published before (quiet hours, a delay, an escalation); None: at once.
    not_before: datetime | None = None
    # "send", or "escalation": only needed if the leaders of `scope` do not acknowledge in time.
    purpose: str = "send"
    scope: str | None = None
    dedupe: DedupeMark | None = None
    # The rule asks residents for a safety answer (docs/coverage.md).
    safety_check: bool = False

    @property
    def slot(self) -> tuple[str, str]:
        return (self.channel, self.audience)
