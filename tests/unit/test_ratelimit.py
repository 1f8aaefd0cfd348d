from __future__ import annotations

from oms_export.api.ratelimit import RateLimiter


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
