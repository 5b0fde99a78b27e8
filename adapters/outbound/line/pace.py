"""A token bucket that keeps one process's requests to an endpoint under the provider's rate.

LINE counts requests per channel and endpoint (multicast: 200 per second). The pipeline's
partitions decide how many sends run at once; this bucket is the second guard, so that a burst on
a fast link slows down here instead of collecting 429s. It counts this process only: several
worker processes on one channel should each get their share of the rate.
"""

from __future__ import annotations

import asyncio
import time


class Pace:
    def __init__(self, per_second: float, burst: int | None = None) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second
        # A tenth of a second's worth at once: with a whole second's worth as the burst, a full
        # bucket and then the steady rate put 2 × per_second into one second, past LINE's 200 a
        # second for a pace of 150 (docs/benchmarks.md, *Prefecture-scale fan-out*).
        self.burst = float(burst if burst is not None else max(1, int(per_second) // 10))
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        # One waiter at a time takes the next token, so waiters are served in arrival order.
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_second)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.per_second)
