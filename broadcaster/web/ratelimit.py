"""A sliding-window count of requests per client (the public sign-up and e-circular pages)."""

from __future__ import annotations

import time
from collections import deque

# Sign-ups per client address per minute: enough for a family behind one router, not for a script.
RATE_LIMIT = 20
RATE_WINDOW_S = 60.0


class RateLimiter:
    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW_S) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}

    def wait(self, key: str, now: float | None = None) -> float:
        """0 when allowed (and counted), else the seconds until the next request is."""
        t = time.monotonic() if now is None else now
        hits = self._hits.setdefault(key, deque())
        while hits and t - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return self.window - (t - hits[0])
        hits.append(t)
        if len(self._hits) > 10_000:  # forget idle clients
            for k in [k for k, v in self._hits.items() if not v or t - v[-1] >= self.window]:
                del self._hits[k]
        return 0.0
