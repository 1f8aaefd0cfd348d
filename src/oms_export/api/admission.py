"""Who may start an export now, and what an admitted export holds until its stream ends.

An export takes three things, cheapest refusal first:

1. one hit of its client's rate limit (``OMS_EXPORT_RATE_LIMIT_PER_MINUTE``) — else 429;
2. one of this process's export places (``OMS_EXPORT_MAX_NODE_EXPORTS``) — else 503. There
   are fewer places than connections in the export pool, so an admitted export always finds a
   connection and no request ever waits on the pool;
3. one of its client's slots (``OMS_EXPORT_MAX_CONCURRENT_EXPORTS``, shared through Redis when
   configured) — else 429.

What was taken is given back exactly when the response ends, however it ends. While the stream
is open a background task renews the slot's lease, so a slowly read export keeps its slot and a
node that dies frees its slots within the lease's lifetime.

Example::

    admission = await admit_export(state, principal.client_id)  # 429 or 503 when refused
    async with holding(state, admission):
        ...  # stream the export
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from starlette.concurrency import run_in_threadpool

from oms_export.api.limits.contracts import Lease
from oms_export.api.state import ServiceState
from oms_export.errors import RateLimited, TemporarilyUnavailable

log = logging.getLogger("oms_export.limits")

BUSY_RETRY_AFTER = 5
"""``Retry-After`` when all of a client's export slots are taken: no one knows when a running
export ends, and most end within seconds."""

NODE_BUSY_RETRY_AFTER = 2
"""``Retry-After`` when this process streams all the exports it can: another node behind the
load balancer, or this one a moment later, will likely have a place."""


@dataclass
class Admission:
    """An admitted export's node place and client slot; released once, whoever asks first."""

    lease: Lease
    released: bool = False


async def admit_export(state: ServiceState, client_id: str) -> Admission:
    """Count one export request and take a node place and a client slot for it.

    Raises ``RateLimited`` (429) when the client's rate or slots are used up and
    ``TemporarilyUnavailable`` (503) when this process is full or the shared store is down;
    both carry ``Retry-After``. The caller must pass the admission to ``holding`` or
    ``release_export``.
    """
    wait = await run_in_threadpool(state.export_limiter.hit, client_id)
    if wait:
        state.metrics.refused("rate_limit")
        raise RateLimited("Too many export requests; retry later.", retry_after=wait)
    if not state.node_exports.take():
        state.metrics.refused("node_capacity")
        raise TemporarilyUnavailable(
            f"This server is streaming as many exports as it can at once "
            f"({state.node_exports.limit}); retry shortly.",
            retry_after=NODE_BUSY_RETRY_AFTER,
        )
    try:
        lease = await run_in_threadpool(state.export_slots.acquire, client_id)
    except BaseException:
        state.node_exports.give_back()
        raise
    if lease is None:
        state.node_exports.give_back()
        state.metrics.refused("concurrency")
        raise RateLimited(
            f"At most {state.export_slots.limit} exports may run at once for one client; "
            "retry when one has finished.",
            retry_after=BUSY_RETRY_AFTER,
        )
    state.metrics.exports_in_progress.inc()
    return Admission(lease)


async def release_export(state: ServiceState, admission: Admission) -> None:
    """Give the place and the slot back, even while the request is being cancelled."""
    if admission.released:
        return
    admission.released = True
    admission.lease.released = True
    state.node_exports.give_back()
    state.metrics.exports_in_progress.dec()
    with anyio.CancelScope(shield=True):
        try:
            await run_in_threadpool(state.export_slots.release, admission.lease)
        except TemporarilyUnavailable:
            log.warning("could not release an export slot; it expires by itself")


@asynccontextmanager
async def holding(state: ServiceState, admission: Admission) -> AsyncIterator[None]:
    """Keep ``admission`` for as long as the block runs, then release it.

    The lease is renewed on a clock, not on progress: an export read slowly, or not at all
    until the idle timeout ends it, still holds its slot, so a client cannot escape its cap by
    reading slowly.
    """
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_renew, state, admission.lease)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
    except BaseExceptionGroup as failed:
        # _renew never raises, so the group holds the block's own error alone: raise it as is.
        raise failed.exceptions[0] from None
    finally:
        await release_export(state, admission)


async def _renew(state: ServiceState, lease: Lease) -> None:
    slots = state.export_slots
    while True:
        await anyio.sleep(slots.ttl / 3)
        try:
            await run_in_threadpool(slots.renew, lease)
        except Exception:
            # The export is already running; cutting it off would help no one.
            log.warning("could not renew an export slot; the export goes on", exc_info=True)
