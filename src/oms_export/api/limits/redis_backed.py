"""The rate limits and the export cap kept in Redis, so every node and worker shares them.

Each check is one Lua script, so it is atomic however many nodes ask at once, and reads the
time from Redis (``TIME``), so nodes whose clocks disagree still agree on the window. Every key
starts with ``OMS_EXPORT_REDIS_KEY_PREFIX`` (default ``oms-export:``) and carries an expiry, so
a key nobody touches again disappears by itself.

Redis unreachable: every call raises ``TemporarilyUnavailable`` (503 with ``Retry-After``).
The service fails closed on purpose: falling back to per-node counting would quietly multiply
each limit by the number of nodes, and the limits exist to protect the shared database.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from oms_export.api.limits.contracts import LEASE_SECONDS, Lease
from oms_export.errors import TemporarilyUnavailable

log = logging.getLogger("oms_export.limits")

UNAVAILABLE_RETRY_AFTER = 5
"""``Retry-After`` on the 503 answered while Redis cannot be reached."""

_PLAIN_KEY = re.compile(r"[A-Za-z0-9._@-]{1,100}")

# Sliding-window log: a sorted set of event times (µs). Old events are dropped, the rest
# counted; a new one is added only when under the limit, so refused attempts never extend
# the wait. Returns 0 (allowed) or the µs until the oldest event leaves the window.
_RATE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
end
return 0
"""

# Leases: a sorted set of lease id -> expiry (ms). Expired leases are dropped before counting;
# the key itself expires with its newest lease.
_ACQUIRE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

_RENEW_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


def redis_client(url: str) -> redis.Redis:
    """A client that gives up fast: one immediate retry (a stale pooled connection), then an
    error within two seconds, so an outage answers 503 instead of hanging requests."""
    return redis.Redis.from_url(
        url,
        socket_timeout=2,
        socket_connect_timeout=2,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )


def key_part(key: str) -> str:
    """``key`` as it goes into a Redis key: readable when plain, hashed when it is not (a
    client id in a failed token request is whatever the caller typed, of any length)."""
    if _PLAIN_KEY.fullmatch(key):
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _unavailable(exc: redis.RedisError) -> TemporarilyUnavailable:
    log.warning("redis unreachable: %s: %s", exc.__class__.__name__, exc)
    return TemporarilyUnavailable(
        "The service's shared limit store is unreachable; retry shortly.",
        retry_after=UNAVAILABLE_RETRY_AFTER,
    )


class RedisLimiter:
    """``limit`` events per ``window_seconds`` per key, as an exact sliding window (a log of
    event times per key), shared by every node using the same Redis and prefix."""

    def __init__(
        self, client: redis.Redis, prefix: str, limit: int, window_seconds: float = 60.0
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._prefix = prefix
        self._script = client.register_script(_RATE_SCRIPT)

    def hit(self, key: str) -> int:
        return self._run(key, count=True)

    def retry_after(self, key: str) -> int:
        return self._run(key, count=False)

    def _run(self, key: str, *, count: bool) -> int:
        if self.limit <= 0:
            return 0
        member = Lease(key).id if count else ""
        window_us = int(self.window * 1_000_000)
        try:
            wait_us = int(
                self._script(
                    keys=[self._prefix + key_part(key)], args=[window_us, self.limit, member]
                )
            )
        except redis.RedisError as exc:
            raise _unavailable(exc) from None
        return math.ceil(wait_us / 1_000_000) if wait_us > 0 else 0


class RedisExportSlots:
    """At most ``limit`` leases per key, shared by every node; a lease not renewed within
    ``ttl`` seconds expires, so a node that dies mid-export frees its slots."""

    def __init__(
        self, client: redis.Redis, prefix: str, limit: int, ttl: float = LEASE_SECONDS
    ) -> None:
        self.limit = limit
        self.ttl = ttl
        self._client = client
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE_SCRIPT)
        self._renew = client.register_script(_RENEW_SCRIPT)

    def acquire(self, key: str) -> Lease | None:
        lease = Lease(key)
        if self.limit <= 0:
            return lease
        taken = self._call(self._acquire, key, [self.limit, self._ttl_ms, lease.id])
        return lease if int(taken) else None

    def renew(self, lease: Lease) -> None:
        if self.limit > 0 and not lease.released:
            self._call(self._renew, lease.key, [self._ttl_ms, lease.id])

    def release(self, lease: Lease) -> None:
        if self.limit <= 0:
            return
        try:
            self._client.zrem(self._key(lease.key), lease.id)
        except redis.RedisError as exc:
            raise _unavailable(exc) from None

    @property
    def _ttl_ms(self) -> int:
        return int(self.ttl * 1000)

    def _key(self, key: str) -> str:
        return self._prefix + key_part(key)

    def _call(self, script: Any, key: str, args: list[Any]) -> Any:
        try:
            return script(keys=[self._key(key)], args=args)
        except redis.RedisError as exc:
            raise _unavailable(exc) from None
