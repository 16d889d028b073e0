"""A per-client limit on matches and votes, so one client cannot flood the arena for everyone else.

A token bucket per key: ``per_minute`` requests in a burst, refilled at ``per_minute`` a minute. The
buckets live in this process's memory: each server process (worker) counts on its own, and a restart
forgets them; that is enough to slow a flood down without a shared store. Callers key matches by
client address and votes by client address and voter id, so voters behind one address keep their own
vote budgets while the match limit per address still bounds what voter ids made up on the spot can do.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from imagearena.errors import ImageArenaError


class RateLimitedError(ImageArenaError):
    """Too many requests from one client; ``retry_after_s`` says when the next one is accepted."""

    http_status = 429

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many requests from this client: wait {retry_after_s} s and try again")
        self.retry_after_s = retry_after_s


class RateLimiter:
    def __init__(
        self, per_minute: int, *, max_keys: int = 65_536, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``per_minute`` 0 turns the limit off."""
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens left, when counted)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def check(self, key: str) -> None:
        """Count one request for ``key``; RateLimitedError (429) when its bucket is empty."""
        if not self.enabled:
            return
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * self._rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimitedError(max(1, math.ceil((1.0 - tokens) / self._rate)))
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self._max_keys:
                self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled (they hold nothing a new bucket would not), then the stalest."""
        full_after = 60.0
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        if len(self._buckets) > self._max_keys:
            newest = sorted(self._buckets.items(), key=lambda kv: kv[1][1])[-(self._max_keys // 2) :]
            self._buckets = dict(newest)
