"""A per-key sliding-window rate limit, kept in this process, and the key of a source address.

Good for one node; issue #3 shares it through Redis across nodes. The clock is injectable so
tests can move time instead of sleeping.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
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


UNKNOWN_SOURCE = "unknown"
"""The key of requests whose source address the server does not know (a Unix socket)."""


def source_key(host: str | None) -> str:
    """The rate-limit key of the source address ``host``: IPv4 as is, IPv6 by its /64.

    One IPv6 host owns a whole /64 (privacy addresses rotate inside it), so keying each address
    alone would let one machine spread its failures over endless keys. An IPv4-mapped IPv6
    address is its IPv4 address. Anything that is not an IP address (a test client's name) is
    used as given.

    Example::

        source_key("203.0.113.7")           # -> "203.0.113.7"
        source_key("2001:db8:1:2:a:b:c:d")  # -> "2001:db8:1:2::/64"
        source_key("::ffff:203.0.113.7")    # -> "203.0.113.7"
    """
    if not host:
        return UNKNOWN_SOURCE
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
