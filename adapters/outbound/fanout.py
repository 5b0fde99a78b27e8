"""One request per recipient, in parallel, with what each answered; shared by web push, FCM and
the webhook channel.

A dispatch's batch may hold a thousand push subscriptions (or a few webhook subscribers). If a
few fail for a moment (a 503, a timeout) the dispatch is retried, and a retry must not send again
to those who already got it. The adapter remembers, per idempotency key and for as long as the
process runs, which recipients are done (delivered, gone or refused), and a retry goes only to the
rest. After a crash that memory is gone and a retry may repeat a push (docs/decisions.md, decision 2:
possible and documented for Web Push and FCM); the webhook's receivers drop the repeat by its
Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from broadcaster.channels import SendResult
from broadcaster.errors import PermanentError, TransientError


class Outcome(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"  # the recipient no longer exists (410, unregistered): pruned
    RETRY = "retry"  # try again later (429, 5xx, timeout)
    REFUSED = "refused"  # this recipient will not take this message (4xx other than gone)


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    detail: str = ""
    retry_after: float | None = None


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After (RFC 9110 §10.2.3) as seconds: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _h(recipient: str) -> bytes:
    return hashlib.blake2b(recipient.encode("utf-8"), digest_size=16).digest()


@dataclass
class _Done:
    delivered: set[bytes] = field(default_factory=set)
    finished: set[bytes] = field(default_factory=set)  # delivered, gone or refused
    gone: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (recipient label, why)


class Memory:
    """What each recent dispatch (by idempotency key) already did, in this process."""

    def __init__(self, max_keys: int = 256) -> None:
        self.max_keys = max_keys
        self._keys: OrderedDict[str, _Done] = OrderedDict()

    def of(self, key: str) -> _Done:
        done = self._keys.get(key)
        if done is None:
            done = self._keys[key] = _Done()
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        return done

    def pending(self, key: str, recipients: Sequence[str]) -> list[str]:
        """The recipients an attempt of `key` would still send to (what fan_out will try)."""
        done = self.of(key)
        return [r for r in dict.fromkeys(recipients) if _h(r) not in done.finished]


@dataclass
class Round:
    total: int
    done: _Done
    retry: list[tuple[str, Answer]] = field(default_factory=list)
    skipped: int = 0  # already done in an earlier attempt

    def result(self, *, noun: str, partial_ok: bool, ref: str) -> SendResult:
        """The SendResult of this attempt, or the error that makes the worker retry or give up."""
        d = self.done
        if self.retry:
            waits = [a.retry_after for _, a in self.retry if a.retry_after is not None]
            raise TransientError(
                f"{len(self.retry)} of {self.total} {noun} to retry ({self.retry[0][1].detail}); "
                f"{len(d.delivered)} delivered so far",
                retry_after=max(waits) if waits else None,
            )
        if d.refused and (not partial_ok or not d.delivered):
            listed = "; ".join(f"{who}: {why}" for who, why in d.refused[:5])
            raise PermanentError(
                f"{len(d.refused)} of {self.total} {noun} refused ({listed}); {len(d.delivered)} delivered"
            )
        detail = f"{len(d.delivered)} of {self.total} {noun} delivered"
        if d.gone:
            detail += f", {len(d.gone)} gone"
        if d.refused:
            detail += f", {len(d.refused)} refused"
        return SendResult(
            provider_ref=ref, mode="live", accepted=len(d.delivered), detail=detail, gone=tuple(d.gone)
        )


async def fan_out(
    key: str,
    recipients: Sequence[str],
    send_one: Callable[[str], Awaitable[Answer]],
    *,
    memory: Memory,
    concurrency: int,
    label: Callable[[str], str] = lambda r: r,
) -> Round:
    done = memory.of(key)
    todo = [r for r in dict.fromkeys(recipients) if _h(r) not in done.finished]
    rnd = Round(total=len(set(recipients)), done=done, skipped=len(set(recipients)) - len(todo))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(recipient: str) -> None:
        async with gate:
            answer = await send_one(recipient)
        h = _h(recipient)
        if answer.outcome is Outcome.DELIVERED:
            done.delivered.add(h)
            done.finished.add(h)
        elif answer.outcome is Outcome.GONE:
            done.gone.append(recipient)
            done.finished.add(h)
        elif answer.outcome is Outcome.REFUSED:
            done.refused.append((label(recipient), answer.detail))
            done.finished.add(h)
        else:
            rnd.retry.append((recipient, answer))

    await asyncio.gather(*(one(r) for r in todo))
    return rnd
