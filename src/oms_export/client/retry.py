"""When to try again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from oms_export.client.errors import ApiError, IncompleteBody

RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Retry:
    """Capped exponential backoff with jitter; the service's ``Retry-After`` wins when given.

    ``attempts`` counts tries of one request (one page), so a long pull that meets a fault now
    and then never runs out. A ``Retry-After`` longer than ``max_retry_after`` fails at once
    rather than leave a scheduled job hanging.
    """

    attempts: int = 8
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, error: Exception, failures: int) -> float | None:
        """Seconds to wait before try ``failures + 1``, or None when ``error`` is final."""
        if failures >= self.attempts or not retryable(error):
            return None
        if isinstance(error, ApiError) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return float(error.retry_after)
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (failures - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Retrying:
    """A failed attempt that is about to be tried again, for whoever watches a pull.

    Given to ``ExportClient(on_retry=…)`` before each wait, so a long wait on a busy or dead
    service is never silent: ``str()`` is one line naming the attempt, the URL and the error,
    e.g. ``Attempt 2 of 8 failed: http://h/token: ConnectError: refused; trying again in 1.1 s``.
    """

    attempt: int
    """The attempt that failed, counted from 1 for this request (a page, or the token)."""
    attempts: int
    """How many attempts ``Retry`` allows one request."""
    url: str
    """The request that failed, without its query."""
    error: str
    """What went wrong, as one line."""
    delay: float
    """Seconds until the next attempt."""

    def __str__(self) -> str:
        return (
            f"Attempt {self.attempt} of {self.attempts} failed: {self.url}: {self.error}; "
            f"trying again in {self.delay:.1f} s"
        )


def retryable(error: Exception) -> bool:
    """Busy or briefly unavailable service, a dropped connection, a body cut short."""
    if isinstance(error, ApiError):
        return error.status_code in RETRY_STATUSES
    return isinstance(error, httpx.TransportError | IncompleteBody)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: RFC 9110 allows delay-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not '²', which isdigit() but float() refuses
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
