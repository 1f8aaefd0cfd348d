"""Per-client protection (spec §3.6): rate limits and a cap on concurrent exports.

Each has one small interface and two flavours: kept in this process (``RateLimiter``,
``LocalExportSlots``), right for one node, or kept in Redis (``api/redis_limits.py``) when
``OMS_EXPORT_REDIS_URL`` is set, so every node and worker counts against the same limit.
``make_limits`` picks the flavour from the settings; routes only see the Protocols, and call
``admit_export`` / ``hold_export`` around an export.

Example::

    lease = await admit_export(state, principal.client_id)  # 429 or 503 when refused
    return StreamingResponse(hold_export(state, lease, body))  # released when the body ends
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

import anyio
from starlette.concurrency import run_in_threadpool

from oms_export.api.ratelimit import RateLimiter
from oms_export.errors import RateLimited, TemporarilyUnavailable
from oms_export.settings import Settings

if TYPE_CHECKING:
    from oms_export.api.state import ServiceState

log = logging.getLogger("oms_export.limits")

LEASE_SECONDS = 60.0
"""How long an export slot stays taken without renewal: a node that dies frees its slots
within this time. A streaming export renews its lease every third of it."""

BUSY_RETRY_AFTER = 5
"""``Retry-After`` when all of a client's export slots are taken: no one knows when a running
export ends, and most end within seconds."""


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
    renewed: float = field(default_factory=time.monotonic)
    """When the lease was taken or last renewed (this process's monotonic clock)."""


class ExportSlots(Protocol):
    """A cap on exports running at once per key; a slot is held by a lease that expires."""

    limit: int
    ttl: float

    def acquire(self, key: str) -> Lease | None:
        """A lease on one of ``key``'s slots, or None when all are taken."""
        ...

    def renew(self, lease: Lease) -> None:
        """Keep ``lease`` for another ``ttl`` seconds; an export calls this while it streams."""
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


def make_limits(settings: Settings) -> Limits:
    """The protection ``settings`` ask for: in Redis when ``redis_url`` is set, else here."""
    if not settings.redis_url:
        return Limits(
            RateLimiter(settings.rate_limit_per_minute),
            RateLimiter(settings.token_rate_limit_per_minute),
            LocalExportSlots(settings.max_concurrent_exports),
        )
    from oms_export.api.redis_limits import RedisExportSlots, RedisLimiter, redis_client

    client = redis_client(settings.redis_url)
    prefix = settings.redis_key_prefix
    return Limits(
        RedisLimiter(client, prefix + "rate:export:", settings.rate_limit_per_minute),
        RedisLimiter(client, prefix + "rate:token-failure:", settings.token_rate_limit_per_minute),
        RedisExportSlots(client, prefix + "slots:export:", settings.max_concurrent_exports),
    )


async def admit_export(state: ServiceState, client_id: str) -> Lease:
    """Count one export request against the client's rate limit and take one of its slots.

    Raises ``RateLimited`` (429 with ``Retry-After``) when either is used up, and
    ``TemporarilyUnavailable`` (503) when the shared store cannot be reached. The caller must
    hand the lease to ``hold_export`` or ``release_export``; a lease dropped anyway frees
    itself after ``LEASE_SECONDS``.
    """
    wait = await run_in_threadpool(state.export_limiter.hit, client_id)
    if wait:
        state.metrics.refused("rate_limit")
        raise RateLimited("Too many export requests; retry later.", retry_after=wait)
    lease = await run_in_threadpool(state.export_slots.acquire, client_id)
    if lease is None:
        state.metrics.refused("concurrency")
        raise RateLimited(
            f"At most {state.export_slots.limit} exports may run at once for one client; "
            "retry when one has finished.",
            retry_after=BUSY_RETRY_AFTER,
        )
    state.metrics.exports_in_progress.inc()
    return lease


async def release_export(state: ServiceState, lease: Lease) -> None:
    """Give the slot back, even while the request is being cancelled (the client went away)."""
    if lease.released:
        return
    lease.released = True
    state.metrics.exports_in_progress.dec()
    with anyio.CancelScope(shield=True):
        try:
            await run_in_threadpool(state.export_slots.release, lease)
        except TemporarilyUnavailable:
            log.warning("could not release an export slot; it expires by itself")


async def hold_export(
    state: ServiceState, lease: Lease, body: AsyncIterator[bytes]
) -> AsyncGenerator[bytes, None]:
    """Pass ``body`` through unchanged, renewing ``lease`` while it streams and releasing it
    (and closing ``body``) however the response ends: finished, failed or abandoned."""
    slots = state.export_slots
    try:
        async for chunk in body:
            yield chunk
            if time.monotonic() - lease.renewed > slots.ttl / 3:
                lease.renewed = time.monotonic()
                try:
                    await run_in_threadpool(slots.renew, lease)
                except TemporarilyUnavailable:
                    # The export is already running; cutting it off would help no one.
                    log.warning("could not renew an export slot; the export goes on")
    finally:
        try:
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
        finally:
            await release_export(state, lease)
