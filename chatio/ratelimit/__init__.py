"""Rate limiters: the interface and its implementations."""
from .base import RateLimiter
from .memory import MemoryRateLimiter

__all__ = ["MemoryRateLimiter", "RateLimiter"]
