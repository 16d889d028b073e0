"""The per-client token bucket: a burst of per_minute requests, then one more every 60/per_minute s."""

from __future__ import annotations

import pytest

from imagearena.arena.ratelimit import RateLimitedError, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_a_refused_request_that_says_when_to_retry():
    clock = Clock()
    limiter = RateLimiter(6, clock=clock)  # one request every 10 s once the burst is spent
    for _ in range(6):
        limiter.check("a")
    with pytest.raises(RateLimitedError) as info:
        limiter.check("a")
    assert info.value.http_status == 429 and info.value.retry_after_s == 10
    clock.now += 4
    with pytest.raises(RateLimitedError) as info:
        limiter.check("a")
    assert info.value.retry_after_s == 6
    clock.now += 6
    limiter.check("a")
    limiter.check("b")  # another key has its own bucket


def test_zero_is_off():
    limiter = RateLimiter(0)
    assert not limiter.enabled
    for _ in range(10_000):
        limiter.check("a")


def test_memory_stays_bounded_under_many_keys():
    clock = Clock()
    limiter = RateLimiter(5, max_keys=100, clock=clock)
    for i in range(1000):
        limiter.check(f"k{i}")
        clock.now += 0.001
    assert len(limiter._buckets) <= 101
