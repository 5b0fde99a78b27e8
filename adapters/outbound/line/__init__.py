"""LINE official account messages (docs/channels.md)."""

from adapters.outbound.line.adapter import LineAdapter, LineSettings, Quota, classify, retry_key
from adapters.outbound.line.messages import LineMessage, plan

__all__ = ["LineAdapter", "LineMessage", "LineSettings", "Quota", "classify", "plan", "retry_key"]
