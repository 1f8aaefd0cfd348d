"""The limits a service runs with, picked from its settings: in Redis when ``redis_url`` is
set (shared by every node), else in this process.

The one module that knows both flavours, so nothing else has to; ``create_app`` calls it once
per service and hands the result to ``ServiceState``.
"""

from __future__ import annotations

from typing import NamedTuple

from oms_export.api.limits.contracts import ExportSlots, Limiter
from oms_export.api.limits.local import LocalExportSlots, RateLimiter
from oms_export.api.limits.redis_backed import RedisExportSlots, RedisLimiter, redis_client
from oms_export.settings import Settings


class Limits(NamedTuple):
    export_rate: Limiter
    token_failures: Limiter
    export_slots: ExportSlots
    token_issues: Limiter


SIGN_IN_FAILURES = 5
SIGN_IN_WINDOW_SECONDS = 15 * 60
"""The console refuses a sign-in after this many failures within this window, per email and
per source address (``console/throttle.py``)."""


def make_sign_in_limiter(settings: Settings) -> Limiter:
    """Failed console sign-ins, counted where the other limits are: shared in Redis when
    ``redis_url`` is set, so several workers or nodes do not each give a guesser five tries."""
    if not settings.redis_url:
        return RateLimiter(SIGN_IN_FAILURES, SIGN_IN_WINDOW_SECONDS)
    return RedisLimiter(
        redis_client(settings.redis_url),
        settings.redis_key_prefix + "rate:sign-in-failure:",
        SIGN_IN_FAILURES,
        SIGN_IN_WINDOW_SECONDS,
    )


def make_limits(settings: Settings) -> Limits:
    """The protection ``settings`` ask for: in Redis when ``redis_url`` is set, else here."""
    if not settings.redis_url:
        return Limits(
            RateLimiter(settings.rate_limit_per_minute),
            RateLimiter(settings.token_rate_limit_per_minute),
            LocalExportSlots(settings.max_concurrent_exports),
            RateLimiter(settings.token_issue_limit_per_minute),
        )
    client = redis_client(settings.redis_url)
    prefix = settings.redis_key_prefix
    return Limits(
        RedisLimiter(client, prefix + "rate:export:", settings.rate_limit_per_minute),
        RedisLimiter(client, prefix + "rate:token-failure:", settings.token_rate_limit_per_minute),
        RedisExportSlots(client, prefix + "slots:export:", settings.max_concurrent_exports),
        RedisLimiter(client, prefix + "rate:token-issue:", settings.token_issue_limit_per_minute),
    )
