"""When a failed event is tried again, and when it is given up: pure policy, no I/O.

Waits grow along ``OMS_EXPORT_EVENT_RETRY_SECONDS`` (the last repeated), each jittered by ±20%
so receivers coming back from an outage are not hit by every waiting event at the same second.
An event is given up ``give_up`` seconds after its change: the last wait is cut short so that
one attempt falls on that moment, and if it fails too the event is failed.

Example, with a random source that always says 0.5 (no jitter)::

    schedule = Schedule((30, 120), give_up=86400, random=lambda: 0.5)
    schedule.wait(1), schedule.wait(2), schedule.wait(7)  # (30.0, 120.0, 120.0)
    schedule.after_failure(attempts=1, occurred_at=t, now=t)  # Retry(at=t + 30 s)
    schedule.after_failure(attempts=9, occurred_at=t, now=t + 1 day)  # GiveUp()
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

JITTER = 0.2
"""Each wait is drawn from [wait * (1 - JITTER), wait * (1 + JITTER)]."""


@dataclass(frozen=True)
class Retry:
    """Try again at ``at``."""

    at: datetime


@dataclass(frozen=True)
class GiveUp:
    """No more attempts: the event is failed."""


@dataclass(frozen=True)
class Schedule:
    waits: Sequence[int]
    give_up: int
    random: Callable[[], float] = field(default=_random.random, compare=False)
    """A number in [0, 1); injected so tests know each wait."""

    def wait(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (counted from 1)."""
        base = self.waits[min(attempts, len(self.waits)) - 1]
        return base * (1 - JITTER + 2 * JITTER * self.random())

    def after_failure(
        self, *, attempts: int, occurred_at: datetime, now: datetime
    ) -> Retry | GiveUp:
        """What follows the ``attempts``-th failed attempt, made at ``now``."""
        deadline = occurred_at + timedelta(seconds=self.give_up)
        if now >= deadline:
            return GiveUp()
        return Retry(min(now + timedelta(seconds=self.wait(attempts)), deadline))
