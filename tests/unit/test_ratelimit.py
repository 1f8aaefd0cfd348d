from __future__ import annotations

import pytest

from oms_export.api.limits.keys import UNKNOWN_SOURCE, source_key
from oms_export.api.limits.local import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_allows_n_hits_per_window_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60, clock)
    assert [limiter.hit("a"), limiter.hit("a")] == [0, 0]
    clock.now += 10
    assert limiter.hit("a") == 50
    assert limiter.retry_after("a") == 50
    assert limiter.hit("b") == 0  # keys are independent
    clock.now += 50
    assert limiter.hit("a") == 0


def test_zero_turns_the_limit_off() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.hit("a") == 0 for _ in range(1000))


def test_idle_keys_are_dropped_so_random_keys_cannot_grow_memory() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60, clock)
    for n in range(RateLimiter.SWEEP_AT):
        limiter.hit(f"random-{n}")
    clock.now += 61
    limiter.hit("late")
    assert len(limiter) == 1


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:a:b:c:d", "2001:db8:1:2::/64"),
        ("2001:0db8:0001:0002::ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
        ("", UNKNOWN_SOURCE),
        (None, UNKNOWN_SOURCE),
    ],
)
def test_a_source_address_is_keyed_as_ipv4_or_its_ipv6_64(host: str | None, key: str) -> None:
    assert source_key(host) == key


def test_one_ipv6_host_rotating_addresses_fills_one_key_and_spares_its_neighbours() -> None:
    limiter = RateLimiter(2, 60, Clock())
    waits = [limiter.hit(source_key(f"2001:db8:1:2::{n:x}")) for n in range(1, 4)]
    assert waits[:2] == [0, 0]
    assert waits[2] > 0
    assert limiter.hit(source_key("2001:db8:1:3::1")) == 0
