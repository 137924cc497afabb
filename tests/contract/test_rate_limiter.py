"""The RateLimiter contract, run against every implementation, and how the
Redis one fails open while Redis is down."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from chatio.ratelimit import MemoryRateLimiter, RateLimiter
from chatio.ratelimit.redis import RedisRateLimiter
from chatio.settings import Rate
from support import RedisServer
from support.clock import FakeClock
from support.redis_cluster import RedisClusterServer
from support.redis_contents import admin_client
from chatio.redis_client import new_client

MakeLimiter = Callable[[Rate], RateLimiter]
# Slow enough that the test's own run time hardly refills a bucket.
SLOW = Rate(0.1, 3)


def _client(server: RedisServer | RedisClusterServer) -> aioredis.Redis:
    return new_client(server.url)


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def make_limiter(request: pytest.FixtureRequest) -> AsyncIterator[MakeLimiter]:
    clients: list[aioredis.Redis] = []

    def make(rate: Rate) -> RateLimiter:
        if request.param == "memory":
            return MemoryRateLimiter(rate)
        server = request.getfixturevalue(
            "redis_cluster" if request.param == "redis-cluster"
            else "redis_server")
        client = _client(server)
        clients.append(client)
        return RedisRateLimiter(client, request.getfixturevalue("redis_prefix"),
                                rate, MemoryRateLimiter(rate))

    yield make
    for client in clients:
        await client.aclose()


async def test_burst_is_allowed_then_the_wait_is_reported(
        make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(SLOW)
    assert [await limiter.acquire("u") for _ in range(3)] == [0, 0, 0]
    # No tokens left: the next one is (1 - tokens) / rate away, a little
    # less than 10 s because the bucket refilled while the test ran.
    for _ in range(2):  # a refused call takes nothing
        wait = await limiter.acquire("u")
        assert 9.0 < wait <= 10.0


async def test_waiting_the_reported_time_is_enough(
        make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(Rate(20, 1))
    assert await limiter.acquire("u") == 0
    wait = await limiter.acquire("u")
    assert 0 < wait <= 0.05
    # Waiting is what is under test; the margin covers clock granularity.
    await asyncio.sleep(wait + 0.01)
    assert await limiter.acquire("u") == 0


async def test_disabled_rate_never_limits(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(Rate(0, 0))
    assert [await limiter.acquire("u") for _ in range(100)] == [0] * 100


async def test_keys_are_independent(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(SLOW)
    for _ in range(3):
        await limiter.acquire("a")
    assert await limiter.acquire("a") > 0
    assert await limiter.acquire("b") == 0
    assert await limiter.acquire("a:b") == 0


async def test_refund_gives_back_one_token(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(SLOW)
    assert [await limiter.acquire("u") for _ in range(3)] == [0, 0, 0]
    await limiter.refund("u")
    assert await limiter.acquire("u") == 0
    assert await limiter.acquire("u") > 9.0


async def test_refund_never_fills_a_bucket_beyond_its_burst(
        make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(SLOW)
    await limiter.refund("fresh")  # a bucket never used is full already
    assert await limiter.acquire("u") == 0
    for _ in range(3):
        await limiter.refund("u")
    assert [await limiter.acquire("u") for _ in range(3)] == [0, 0, 0]
    assert await limiter.acquire("u") > 9.0
    assert [await limiter.acquire("fresh") for _ in range(3)] == [0, 0, 0]
    assert await limiter.acquire("fresh") > 9.0


async def test_refund_of_a_disabled_rate_is_harmless(
        make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(Rate(0, 0))
    await limiter.refund("u")
    assert await limiter.acquire("u") == 0


# -- Redis ---------------------------------------------------------------------

async def test_redis_bucket_is_shared_by_nodes_and_expires(
        shared_redis: RedisServer | RedisClusterServer, redis_prefix: str) -> None:
    clients = [_client(shared_redis) for _ in range(2)]
    try:
        one, two = (RedisRateLimiter(c, redis_prefix, SLOW, MemoryRateLimiter(SLOW))
                    for c in clients)
        assert [await one.acquire("u"), await two.acquire("u"),
                await one.acquire("u")] == [0, 0, 0]
        assert 9.0 < await two.acquire("u") <= 10.0
        assert 9.0 < await one.acquire("u") <= 10.0
        ttl = await clients[0].pttl(f"{redis_prefix}:rate:{{u}}")
        assert 59_000 < ttl <= 60_000  # burst / rate * 2
    finally:
        for client in clients:
            await client.aclose()


async def test_redis_disabled_rate_does_not_touch_redis(
        shared_redis: RedisServer | RedisClusterServer, redis_prefix: str) -> None:
    client = _client(shared_redis)
    try:
        limiter = RedisRateLimiter(client, redis_prefix, Rate(0, 0),
                                   MemoryRateLimiter(Rate(0, 0)))
        assert await limiter.acquire("u") == 0
        assert [k async for k in client.scan_iter(f"{redis_prefix}:*")] == []
    finally:
        await client.aclose()


async def test_redis_down_fails_open_to_the_local_bucket(
        own_redis_server: RedisServer, redis_prefix: str,
        caplog: pytest.LogCaptureFixture) -> None:
    rate = Rate(0.1, 2)
    clock = FakeClock()
    client = _client(own_redis_server)
    limiter = RedisRateLimiter(client, redis_prefix, rate,
                               MemoryRateLimiter(rate), probe_interval=1.0,
                               clock=clock)
    caplog.set_level(logging.INFO, logger="chatio.ratelimit.redis")

    def warnings() -> int:
        return sum(r.levelno == logging.WARNING for r in caplog.records)

    try:
        assert await limiter.acquire("u") == 0  # Redis: one token left
        own_redis_server.kill()
        # The local bucket is full: down is never "closed".
        assert [await limiter.acquire("u") for _ in range(2)] == [0, 0]
        assert 9.0 < await limiter.acquire("u") <= 10.0
        clock.now += 1.0  # due to probe Redis again: still down
        assert 9.0 < await limiter.acquire("u") <= 10.0
        assert limiter.degraded
        assert warnings() == 1  # once per outage, not per call

        own_redis_server.restart()
        assert 9.0 < await limiter.acquire("u") <= 10.0  # not yet probed
        clock.now += 1.0
        # Redis-timed again: its bucket (lost with the restart) is full,
        # though the local one is empty.
        assert [await limiter.acquire("u") for _ in range(2)] == [0, 0]
        assert not limiter.degraded
        assert 9.0 < await limiter.acquire("u") <= 10.0
        assert await client.exists(f"{redis_prefix}:rate:{{u}}") == 1

        own_redis_server.kill()  # a second outage is logged once more
        clock.now += 1.0
        await limiter.acquire("u")
        await limiter.acquire("u")
        assert warnings() == 2
    finally:
        await client.aclose()


async def test_redis_down_refund_goes_to_the_local_bucket(
        own_redis_server: RedisServer, redis_prefix: str) -> None:
    rate = Rate(0.1, 2)
    client = _client(own_redis_server)
    limiter = RedisRateLimiter(client, redis_prefix, rate,
                               MemoryRateLimiter(rate), clock=FakeClock())
    try:
        own_redis_server.kill()
        assert [await limiter.acquire("u") for _ in range(2)] == [0, 0]
        await limiter.refund("u")
        assert await limiter.acquire("u") == 0
        assert await limiter.acquire("u") > 9.0
    finally:
        await client.aclose()
