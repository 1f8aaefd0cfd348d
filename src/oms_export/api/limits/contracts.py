"""What a limit promises, apart from where it is kept: routes and admission see only these.

Both flavours (``local``, ``redis_backed``) implement them, and ``tests/unit/test_limits.py``
runs one set of tests against each, so a route cannot tell one node's limits from shared ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Final, Protocol

LEASE_SECONDS: Final = 60.0
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
