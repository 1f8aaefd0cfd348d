"""The limits kept in this process: right for one node, and for tests (clocks are injectable,
so a test moves time instead of sleeping).

``RateLimiter`` and ``LocalExportSlots`` are the in-process flavours of the ``contracts``;
``NodeCapacity`` is this process's own cap on the exports it streams, which is per node by
nature and so has no shared flavour.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from oms_export.api.limits.contracts import LEASE_SECONDS, Lease


class RateLimiter:
    """``limit`` events per ``window_seconds`` per key, as an exact sliding window."""

    SWEEP_AT = 10_000
    """Keys held before idle ones are dropped, so random keys (client ids, addresses) cannot
    grow memory."""

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


class LocalExportSlots:
    """The cap kept in this process; leases expire after ``ttl`` unless renewed.

    Expiry matters even here: a response that never starts (the client left first) never runs
    its body's cleanup, and its slot must not stay taken until the process restarts.
    """

    def __init__(
        self, limit: int, ttl: float = LEASE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.ttl = ttl
        self._clock = clock
        self._leases: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> Lease | None:
        if self.limit <= 0:
            return Lease(key)
        now = self._clock()
        with self._lock:
            held = self._leases.setdefault(key, {})
            for lease_id in [i for i, expires in held.items() if expires <= now]:
                del held[lease_id]
            if len(held) >= self.limit:
                return None
            lease = Lease(key)
            held[lease.id] = now + self.ttl
            return lease

    def renew(self, lease: Lease) -> None:
        if self.limit <= 0 or lease.released:
            return
        with self._lock:
            self._leases.setdefault(lease.key, {})[lease.id] = self._clock() + self.ttl

    def release(self, lease: Lease) -> None:
        with self._lock:
            held = self._leases.get(lease.key)
            if held is not None:
                held.pop(lease.id, None)
                if not held:
                    del self._leases[lease.key]

    def held(self, key: str) -> int:
        """Slots of ``key`` taken now (for tests and metrics)."""
        now = self._clock()
        with self._lock:
            return sum(expires > now for expires in self._leases.get(key, {}).values())


class NodeCapacity:
    """How many exports this process streams at once, and the most it will
    (``OMS_EXPORT_MAX_NODE_EXPORTS``).

    A plain counter: admissions and releases all run on the one event loop of the process.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0

    def take(self) -> bool:
        if self.running >= self.limit:
            return False
        self.running += 1
        return True

    def give_back(self) -> None:
        self.running -= 1

    @property
    def saturated(self) -> bool:
        return self.running >= self.limit
