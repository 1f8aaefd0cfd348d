"""Repeated failed sign-ins are slowed: per email and per source address.

``FAILURES`` failures within ``WINDOW_SECONDS`` for either key and the next sign-in is refused
with 429 and ``Retry-After`` until the oldest failure leaves the window, whatever the
password. Kept in this process (``api/limits/local.py``'s sliding window), like the token
route's limits without Redis; per email so one account cannot be guessed at from many
addresses, per address so one machine cannot try many accounts.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from oms_export.api.limits.local import RateLimiter

FAILURES = 5
WINDOW_SECONDS = 15 * 60


class SignInThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._failures = RateLimiter(FAILURES, WINDOW_SECONDS, clock=clock)

    def wait(self, email: str, source: str) -> int:
        """Seconds before a sign-in for ``email`` from ``source`` is heard again; 0: now."""
        return max(
            self._failures.retry_after("email:" + email),
            self._failures.retry_after("source:" + source),
        )

    def failed(self, email: str, source: str) -> None:
        self._failures.hit("email:" + email)
        self._failures.hit("source:" + source)
