"""Fixtures shared by the contract tests."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from support.clock import FakeClock


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
