"""Token buckets in Redis, shared by every node of a cluster.

The bucket of a key lives in one hash, ``{prefix}:rate:{<key>}``, with the
fields ``tokens`` and ``at``. A Lua script refills and takes (or gives back)
a token atomically, timed by the Redis server's ``TIME``, so every node agrees on the
clock and ``RATE/BURST`` mean the same as on a single node. A bucket untouched
for twice its refill time is full again, so its key expires then.

While Redis cannot be reached, the limiter fails open to a local in-memory
bucket: limits still hold per node. The outage is logged once when it starts
and once when it ends, not per call. During an outage Redis is retried at
most every ``probe_interval`` seconds, so a slow or hanging Redis does not
delay every request.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from ..redis_client import REDIS_FAILURES
from ..settings import Rate
from .memory import MemoryRateLimiter

log = logging.getLogger(__name__)

# KEYS: bucket; ARGV: burst, tokens per second, key ttl in ms
# Returns the seconds to wait as a string (0 when a token was taken).
TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return string.format('%.17g', wait)
"""

# KEYS: bucket; ARGV: burst, tokens per second, key ttl in ms
# Gives one token back; a bucket that has expired is full already.
REFUND_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  return 0
end
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
tokens = math.min(tonumber(ARGV[1]), tokens + elapsed * tonumber(ARGV[2]) + 1)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# A bucket untouched this many refill times is full again and may expire.
_EXPIRE_AFTER_REFILLS = 2.0
PROBE_INTERVAL = 1.0
_FAILURES = REDIS_FAILURES


class RedisRateLimiter:
    """Implements ``RateLimiter`` across nodes; ``fallback`` serves while
    Redis is unreachable. The caller owns ``client``."""

    def __init__(self, client: aioredis.Redis, prefix: str, rate: Rate,
                 fallback: MemoryRateLimiter, *,
                 probe_interval: float = PROBE_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._prefix = prefix
        self._rate = rate
        self._fallback = fallback
        self._probe_interval = probe_interval
        self._clock = clock
        self._script = client.register_script(TAKE_SCRIPT)
        self._refund_script = client.register_script(REFUND_SCRIPT)
        self._ttl_ms = max(1000, math.ceil(
            rate.burst / rate.per_second * _EXPIRE_AFTER_REFILLS * 1000)
        ) if rate.enabled else 1000
        self._down = False
        self._next_probe = 0.0

    @property
    def degraded(self) -> bool:
        """Whether the local fallback is serving (Redis was unreachable)."""
        return self._down

    async def acquire(self, key: str) -> float:
        if not self._rate.enabled:
            return 0.0
        wait = await self._run(self._script, key)
        if wait is None:
            return self._fallback.take(key)
        return max(0.0, float(wait))

    async def refund(self, key: str) -> None:
        if not self._rate.enabled:
            return
        if await self._run(self._refund_script, key) is None:
            self._fallback.give_back(key)

    async def _run(self, script: Any, key: str) -> Any:
        """The script's answer for ``key``'s bucket; None while Redis is
        unreachable (the fallback serves then)."""
        if self._down and self._clock() < self._next_probe:
            return None
        try:
            answer = await script(
                keys=[f"{self._prefix}:rate:{{{key}}}"],
                args=[self._rate.burst, repr(float(self._rate.per_second)),
                      self._ttl_ms])
        except _FAILURES as exc:
            if not self._down:
                log.warning("rate limits fall back to this node while Redis "
                            "is unreachable: %s: %s", type(exc).__name__, exc)
                self._down = True
            self._next_probe = self._clock() + self._probe_interval
            return None
        if self._down:
            log.info("rate limits are cluster-wide again: Redis is back")
            self._down = False
        return answer
