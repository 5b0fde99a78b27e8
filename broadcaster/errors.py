"""The exception tree. Every error says whether trying again can help (after aiokafka)."""

from __future__ import annotations


class BroadcasterError(Exception):
    retriable: bool = False


class ConfigError(BroadcasterError):
    """Settings, rules or templates are wrong; raised at start-up or by `broadcaster check`."""


class TransientError(BroadcasterError):
    """Trying again later may succeed: connection failure, timeout, 429, 5xx."""

    retriable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(BroadcasterError):
    """Trying again cannot succeed: 4xx, a bad recipient, input no parser understands."""


class ParseError(PermanentError):
    """Input that a parser refuses; `reason` is a short machine-readable code for quarantine."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class QuotaExceededError(PermanentError):
    """The provider's monthly or daily quota is spent: no retry helps until an officer acts."""
