"""The rate limit and the export cap behave the same in-process and in Redis, and the Redis
flavour is shared, atomic, self-expiring and fails closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from oms_export.api.limits.contracts import ExportSlots, Limiter
from oms_export.api.limits.factory import make_limits
from oms_export.api.limits.local import LocalExportSlots, RateLimiter
from oms_export.api.limits.redis_backed import (
    RedisExportSlots,
    RedisLimiter,
    key_part,
    redis_client,
)
from oms_export.errors import TemporarilyUnavailable
from oms_export.settings import Settings
from tests.api.nodes import free_port
from tests.conftest import RedisSpace

MakeLimiter = Callable[[int, float], Limiter]
MakeSlots = Callable[[int, float], ExportSlots]


class Clock:
    """Time as a flavour sees it: moved by hand for the in-process one, which takes a clock;
    the real one for Redis, which reads its own (``TIME``), so only waiting moves it."""

    def __init__(self, *, injected: bool) -> None:
        self.injected = injected
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if self.injected:
            self.now += seconds
        else:
            time.sleep(seconds)


@pytest.fixture
def client(redis_space: RedisSpace) -> Iterator[redis.Redis]:
    client = redis_client(redis_space.url)
    yield client
    client.close()


@pytest.fixture(params=["local", "redis"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock(flavour: str) -> Clock:
    return Clock(injected=flavour == "local")


@pytest.fixture
def make_limiter(request: pytest.FixtureRequest, flavour: str, clock: Clock) -> MakeLimiter:
    if flavour == "local":
        return lambda limit, window: RateLimiter(limit, window, clock=clock)
    space: RedisSpace = request.getfixturevalue("redis_space")
    client: redis.Redis = request.getfixturevalue("client")
    return lambda limit, window: RedisLimiter(client, space.prefix + "rate:", limit, window)


@pytest.fixture
def make_slots(request: pytest.FixtureRequest, flavour: str, clock: Clock) -> MakeSlots:
    if flavour == "local":
        return lambda limit, ttl: LocalExportSlots(limit, ttl, clock=clock)
    space: RedisSpace = request.getfixturevalue("redis_space")
    client: redis.Redis = request.getfixturevalue("client")
    return lambda limit, ttl: RedisExportSlots(client, space.prefix + "slots:", limit, ttl)


def test_a_limiter_allows_n_hits_per_window_then_says_how_long_to_wait(
    make_limiter: MakeLimiter,
) -> None:
    limiter = make_limiter(2, 60)
    assert [limiter.hit("a"), limiter.hit("a")] == [0, 0]
    wait = limiter.hit("a")
    assert 59 <= wait <= 60
    assert 59 <= limiter.retry_after("a") <= 60
    assert limiter.hit("b") == 0, "keys are independent"
    assert limiter.retry_after("c") == 0


def test_retry_after_does_not_count_an_event(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(1, 60)
    assert [limiter.retry_after("a") for _ in range(5)] == [0] * 5
    assert limiter.hit("a") == 0


def test_a_window_slides_so_hits_count_again_once_old_ones_leave_it(
    make_limiter: MakeLimiter, clock: Clock
) -> None:
    limiter = make_limiter(1, 0.3)
    assert limiter.hit("a") == 0
    assert limiter.hit("a") == 1  # under a second: rounded up, never 0
    clock.advance(0.35)
    assert limiter.hit("a") == 0


def test_a_limit_of_zero_is_off(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(0, 60)
    assert {limiter.hit("a") for _ in range(200)} == {0}


def test_export_slots_cap_running_exports_per_key_and_release_frees_one(
    make_slots: MakeSlots,
) -> None:
    slots = make_slots(2, 60)
    first, second = slots.acquire("a"), slots.acquire("a")
    assert first is not None
    assert second is not None
    assert slots.acquire("a") is None
    assert slots.acquire("b") is not None, "keys are independent"
    slots.release(first)
    assert slots.acquire("a") is not None
    assert slots.acquire("a") is None


def test_an_unrenewed_lease_expires_so_a_lost_release_frees_its_slot(
    make_slots: MakeSlots, clock: Clock
) -> None:
    slots = make_slots(1, 0.3)
    assert slots.acquire("a") is not None
    assert slots.acquire("a") is None
    clock.advance(0.35)
    assert slots.acquire("a") is not None


def test_a_renewed_lease_outlives_its_ttl(make_slots: MakeSlots, clock: Clock) -> None:
    slots = make_slots(1, 0.4)
    lease = slots.acquire("a")
    assert lease is not None
    for _ in range(3):
        clock.advance(0.2)
        slots.renew(lease)
    assert slots.acquire("a") is None, "still held 0.6 s later thanks to renewals"


def test_a_cap_of_zero_is_off(make_slots: MakeSlots) -> None:
    slots = make_slots(0, 60)
    leases = [slots.acquire("a") for _ in range(50)]
    assert all(lease is not None for lease in leases)


def test_two_redis_limiters_on_one_prefix_share_the_count(
    client: redis.Redis, redis_space: RedisSpace
) -> None:
    with redis_client(redis_space.url) as other_client:
        node_a = RedisLimiter(client, redis_space.prefix, 3)
        node_b = RedisLimiter(other_client, redis_space.prefix, 3)
        assert [node_a.hit("c"), node_b.hit("c"), node_a.hit("c")] == [0, 0, 0]
        assert node_b.hit("c") > 0
        assert node_a.hit("c") > 0


def test_redis_limiter_holds_exactly_the_limit_under_concurrent_hits(
    client: redis.Redis, redis_space: RedisSpace
) -> None:
    limiter = RedisLimiter(client, redis_space.prefix, 25)
    answers: list[int] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(10):
            wait = limiter.hit("busy")
            with lock:
                answers.append(wait)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 80
    assert answers.count(0) == 25


def test_redis_slots_on_one_prefix_share_the_cap(
    client: redis.Redis, redis_space: RedisSpace
) -> None:
    with redis_client(redis_space.url) as other_client:
        node_a = RedisExportSlots(client, redis_space.prefix, 2)
        node_b = RedisExportSlots(other_client, redis_space.prefix, 2)
        lease = node_a.acquire("c")
        assert lease is not None
        assert node_b.acquire("c") is not None
        assert node_a.acquire("c") is None
        assert node_b.acquire("c") is None
        node_b.release(lease)  # any node may release what another took
        assert node_a.acquire("c") is not None


def test_redis_keys_are_namespaced_and_expire(client: redis.Redis, redis_space: RedisSpace) -> None:
    RedisLimiter(client, redis_space.prefix + "rate:", 5, window_seconds=60).hit("client-1")
    RedisExportSlots(client, redis_space.prefix + "slots:", 2, ttl=60).acquire("client-1")
    keys = redis_space.keys()
    assert keys == [redis_space.prefix + "rate:client-1", redis_space.prefix + "slots:client-1"]
    assert all(client.pttl(k) > 0 for k in keys), "every key expires by itself"
    assert all(k.startswith("oms-export:") for k in keys)


def test_odd_or_long_keys_are_hashed_into_a_short_redis_key() -> None:
    assert key_part("q3Vh0oJx9pWm2D8e5sLk1AbC") == "q3Vh0oJx9pWm2D8e5sLk1AbC"
    hashed = key_part("x" * 5000)
    assert hashed.startswith("sha256:")
    assert len(hashed) < 60
    assert key_part("a b\n") != key_part("a b")


def test_redis_down_fails_closed_quickly_with_temporarily_unavailable() -> None:
    with redis_client(f"redis://127.0.0.1:{free_port()}/0") as client:
        limiter = RedisLimiter(client, "oms-export:", 10)
        slots = RedisExportSlots(client, "oms-export:", 2)
        started = time.monotonic()
        for call in (
            lambda: limiter.hit("a"),
            lambda: limiter.retry_after("a"),
            lambda: slots.acquire("a"),
        ):
            with pytest.raises(TemporarilyUnavailable) as caught:
                call()
            assert caught.value.retry_after > 0
        assert time.monotonic() - started < 5


def test_make_limits_keeps_limits_in_process_unless_a_redis_url_is_set(
    redis_space: RedisSpace,
) -> None:
    local = make_limits(Settings(rate_limit_per_minute=7, max_concurrent_exports=3))
    assert isinstance(local.export_rate, RateLimiter)
    assert isinstance(local.export_slots, LocalExportSlots)
    assert local.export_slots.limit == 3
    shared = make_limits(Settings(redis_url=redis_space.url, redis_key_prefix=redis_space.prefix))
    assert isinstance(shared.export_rate, RedisLimiter)
    assert isinstance(shared.token_failures, RedisLimiter)
    assert isinstance(shared.export_slots, RedisExportSlots)
    shared.export_rate.hit("k")
    shared.token_failures.hit("k")
    assert redis_space.keys() == [
        redis_space.prefix + "rate:export:k",
        redis_space.prefix + "rate:token-failure:k",
    ]
