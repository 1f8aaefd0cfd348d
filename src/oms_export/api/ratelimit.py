"""A per-key sliding-window rate limit, kept in this process.

Good for one node; issue #3 shares it through Redis across nodes. The clock is injectable so
tests can move time instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    SWEEP_AT = 10_000
    """Keys held before idle ones are dropped, so random client ids cannot grow memory."""

    def __init__(
        self, limit: int, window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> int:
        """Count one event for ``key``; return 0 when allowed, else seconds until it would be."""
        if self.limit <= 0:
            return 0
        now = self._clock()
        with self._lock:
            if len(self._hits) >= self.SWEEP_AT and key not in self._hits:
                self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            return 0

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may act again, without counting an event."""
        if self.limit <= 0:
            return 0
        now = self._clock()
        with self._lock:
            hits = self._hits.get(key)
            if not hits:
                return 0
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) < self.limit:
                return 0
            return max(1, math.ceil(hits[0] + self.window - now))

    def _sweep(self, now: float) -> None:
        stale = [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]
        for key in stale:
            del self._hits[key]

    def __len__(self) -> int:
        return len(self._hits)
