"""Repeated failed sign-ins are slowed: per email and per source address.

``SIGN_IN_FAILURES`` failures within ``SIGN_IN_WINDOW_SECONDS`` for either key and the next
sign-in is refused with 429 and ``Retry-After`` until the oldest failure leaves the window,
whatever the password. Counted by the limiter ``api/limits/factory.py`` makes: in this process,
or in Redis when the service shares its limits there, so every worker and node sees the same
count. Per email so one account cannot be guessed at from many addresses, per address so one
machine cannot try many accounts.
"""

from __future__ import annotations

from oms_export.api.limits.contracts import Limiter


class SignInThrottle:
    def __init__(self, failures: Limiter) -> None:
        self._failures = failures

    def wait(self, email: str, source: str) -> int:
        """Seconds before a sign-in for ``email`` from ``source`` is heard again; 0: now."""
        return max(
            self._failures.retry_after("email:" + email),
            self._failures.retry_after("source:" + source),
        )

    def failed(self, email: str, source: str) -> None:
        self._failures.hit("email:" + email)
        self._failures.hit("source:" + source)
