"""Per-client protection (spec §3.6): rate limits and a cap on concurrent exports.

Each has one small interface and two flavours: kept in this process (``RateLimiter``,
``LocalExportSlots``), right for one node, or kept in Redis (``api/redis_limits.py``) when
``OMS_EXPORT_REDIS_URL`` is set, so every node and worker counts against the same limit.
``make_limits`` picks the flavour from the settings; routes only see the Protocols, through
``api/admission.py``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from oms_export.api.ratelimit import RateLimiter
from oms_export.settings import Settings

LEASE_SECONDS = 60.0
"""How long an export slot stays taken without renewal: a node that dies frees its slots
within this time. An open export stream renews its lease every third of it."""


class Limiter(Protocol):
    """Counts events per key within a window (e.g. export requests per client per minute)."""

    def hit(self, key: str) -> int:
        """Count one event; 0 when allowed, else the seconds to wait (the event is not counted)."""
        ...

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may act again (0: now), without counting an event."""
        ...


@dataclass
class Lease:
    """One taken export slot; ``released`` makes a second release harmless."""

    key: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    released: bool = False


class ExportSlots(Protocol):
    """A cap on exports running at once per key; a slot is held by a lease that expires."""

    limit: int
    ttl: float

    def acquire(self, key: str) -> Lease | None:
        """A lease on one of ``key``'s slots, or None when all are taken."""
        ...

    def renew(self, lease: Lease) -> None:
        """Keep ``lease`` for another ``ttl`` seconds; renewed on a clock while it streams."""
        ...

    def release(self, lease: Lease) -> None:
        """Give the slot back."""
        ...


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


class Limits(NamedTuple):
    export_rate: Limiter
    token_failures: Limiter
    export_slots: ExportSlots
    token_issues: Limiter


def make_limits(settings: Settings) -> Limits:
    """The protection ``settings`` ask for: in Redis when ``redis_url`` is set, else here."""
    if not settings.redis_url:
        return Limits(
            RateLimiter(settings.rate_limit_per_minute),
            RateLimiter(settings.token_rate_limit_per_minute),
            LocalExportSlots(settings.max_concurrent_exports),
            RateLimiter(settings.token_issue_limit_per_minute),
        )
    from oms_export.api.redis_limits import RedisExportSlots, RedisLimiter, redis_client

    client = redis_client(settings.redis_url)
    prefix = settings.redis_key_prefix
    return Limits(
        RedisLimiter(client, prefix + "rate:export:", settings.rate_limit_per_minute),
        RedisLimiter(client, prefix + "rate:token-failure:", settings.token_rate_limit_per_minute),
        RedisExportSlots(client, prefix + "slots:export:", settings.max_concurrent_exports),
        RedisLimiter(client, prefix + "rate:token-issue:", settings.token_issue_limit_per_minute),
    )
