"""Token buckets in process memory."""
from __future__ import annotations

import time
from collections.abc import Callable

from ..settings import Rate

# Buckets untouched this long are full again and can be forgotten.
_FORGET_AFTER_REFILLS = 2.0


class MemoryRateLimiter:
    """Implements ``RateLimiter`` for one process."""

    def __init__(self, rate: Rate,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # tokens, at
        self._next_sweep = 0.0

    async def acquire(self, key: str) -> float:
        return self.take(key)

    def take(self, key: str) -> float:
        """Synchronous ``acquire``."""
        if not self._rate.enabled:
            return 0.0
        now = self._clock()
        burst, per_second = self._rate.burst, self._rate.per_second
        tokens, at = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - at) * per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / per_second
        self._sweep(now)
        return wait

    async def refund(self, key: str) -> None:
        self.give_back(key)

    def give_back(self, key: str) -> None:
        """Synchronous ``refund``."""
        if not self._rate.enabled or key not in self._buckets:
            return  # a forgotten bucket is full
        now = self._clock()
        tokens, at = self._buckets[key]
        tokens += (now - at) * self._rate.per_second + 1.0
        self._buckets[key] = (min(float(self._rate.burst), tokens), now)

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        full_after = self._rate.burst / self._rate.per_second
        self._next_sweep = now + full_after
        horizon = now - full_after * _FORGET_AFTER_REFILLS
        for key in [k for k, (_, at) in self._buckets.items() if at < horizon]:
            del self._buckets[key]
