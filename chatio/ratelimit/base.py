"""The rate limiter interface."""
from __future__ import annotations

from typing import Protocol


class RateLimiter(Protocol):
    """Token buckets keyed by a string (a user id, a client address)."""

    async def acquire(self, key: str) -> float:
        """Take one token for ``key``: 0 when allowed, else the seconds until
        a token will be available."""

    async def refund(self, key: str) -> None:
        """Give back a token ``acquire`` took for work that was not done
        (never beyond the bucket's burst)."""
