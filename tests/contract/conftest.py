"""Fixtures shared by the contract tests."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from support.clock import FakeClock
from support.redis_cluster import RedisClusterServer
from support.redis_server import RedisServer


@pytest.fixture
def clock() -> FakeClock:
    """The time every in-memory (and clock-driven Redis) store reads."""
    return FakeClock()


@pytest.fixture
async def redis_clients() -> AsyncIterator[list[aioredis.Redis]]:
    """Clients a test makes; closed when it ends."""
    made: list[aioredis.Redis] = []
    yield made
    for client in made:
        await client.aclose()


@pytest.fixture(params=["redis", "redis-cluster"])
def shared_redis(request: pytest.FixtureRequest
                 ) -> RedisServer | RedisClusterServer:
    """What a store shared by nodes runs on: the session's redis-server,
    then its Redis Cluster (both give ``url`` for chatio)."""
    name = "redis_server" if request.param == "redis" else "redis_cluster"
    return request.getfixturevalue(name)

