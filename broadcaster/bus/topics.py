"""Topic names and the retry-tier arithmetic both bus implementations share."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

from broadcaster.bus.protocol import (
    H_ATTEMPT,
    H_GROUP,
    H_NOT_BEFORE,
    H_ORIGIN_TOPIC,
    H_REASON,
    Outgoing,
    Record,
)

INGEST_RAW = "ingest.raw"
ALERTS = "alerts"
RECEIPTS = "receipts"


def dispatch_topic(channel: str) -> str:
    return f"dispatch.{channel}"


def retry_topic(group: str, tier: float) -> str:
    return f"retry.{group}.{_tier_name(tier)}"


def dead_letter_topic(group: str) -> str:
    return f"dlq.{group}"


def _tier_name(tier: float) -> str:
    return f"{int(tier)}s" if tier == int(tier) else f"{int(tier * 1000)}ms"


def pick_tier(delay: float, tiers: Sequence[float]) -> float:
    """The smallest tier not shorter than `delay` (the longest if none is).

    Each tier is its own topic with one fixed delay, so its records come due in the order they
    were written and a consumer only ever waits for the head of a partition.
    """
    for tier in sorted(tiers):
        if tier >= delay - 1e-9:
            return tier
    return max(tiers)


def backoff(attempt: int, tiers: Sequence[float]) -> float:
    """Exponential backoff over the tiers: attempt 1 failed → first tier, then the next..."""
    ordered = sorted(tiers)
    return ordered[min(max(attempt - 1, 0), len(ordered) - 1)]


def retry_message(record: Record, group: str, delay: float, reason: str, tiers: Sequence[float]) -> Outgoing:
    tier = pick_tier(delay, tiers)
    headers = dict(record.headers)
    headers[H_ATTEMPT] = str(record.attempt + 1)
    headers[H_NOT_BEFORE] = f"{time.time() + tier:.3f}"
    headers[H_ORIGIN_TOPIC] = record.origin_topic
    headers[H_REASON] = reason[:500]
    headers[H_GROUP] = group
    return Outgoing(retry_topic(group, tier), record.value, record.key, headers)


def dead_letter_message(record: Record, group: str, reason: str) -> Outgoing:
    headers = dict(record.headers)
    headers[H_ORIGIN_TOPIC] = record.origin_topic
    headers[H_REASON] = reason[:2000]
    headers[H_GROUP] = group
    return Outgoing(dead_letter_topic(group), record.value, record.key, headers)


def not_before(headers: Mapping[str, str]) -> float:
    try:
        return float(headers.get(H_NOT_BEFORE, "0"))
    except ValueError:
        return 0.0


def is_retry_topic(topic: str) -> bool:
    return topic.startswith("retry.")


def tier_topics(group: str, tiers: Sequence[float]) -> list[str]:
    return [retry_topic(group, t) for t in sorted(set(tiers))]


def seconds_until(deadline: float) -> float:
    return max(0.0, deadline - time.time()) if math.isfinite(deadline) else 0.0
