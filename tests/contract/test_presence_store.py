"""The PresenceStore contract, run against every implementation, and what
a cluster of nodes sharing one Redis relies on."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest
import redis.asyncio as aioredis
from support import RedisServer
from support.clock import FakeClock

from chatio.errors import Unavailable
from chatio.presence import Departure, Member, MemoryPresenceStore, PresenceStore
from chatio.presence.memory import Connection
from chatio.presence.redis import RedisPresenceStore
from chatio.redis_client import new_client

ANN, ANN_PHONE = Member("ann", "Ann"), Member("ann", "Ann (phone)")
BOB = Member("bob", "Bob")

T = TypeVar("T")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def redis_clients() -> AsyncIterator[list[aioredis.Redis]]:
    """Clients a test makes; closed when it ends."""
    made: list[aioredis.Redis] = []
    yield made
    for client in made:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, clock: FakeClock,
          redis_clients: list[aioredis.Redis]) -> PresenceStore:
    if request.param == "memory":
        return MemoryPresenceStore(clock=clock)
    server: RedisServer = request.getfixturevalue("redis_server")
    client = new_client(server.url)
    redis_clients.append(client)
    return RedisPresenceStore(client, request.getfixturevalue("redis_prefix"),
                              "n1", clock=clock)


async def test_first_device_joins_and_last_device_leaves(store: PresenceStore) -> None:
    assert await store.add("r", ANN, "c1", "n1") is True
    assert await store.add("r", ANN_PHONE, "c2", "n1") is False
    assert await store.remove("r", "ann", "c1", grace=0) is None
    assert await store.remove("r", "ann", "c2", grace=0) == ANN_PHONE
    assert await store.members("r") == []


async def test_most_recent_device_names_the_user(store: PresenceStore) -> None:
    await store.add("r", ANN, "c1", "n1")
    await store.add("r", ANN_PHONE, "c2", "n1")
    await store.add("r", BOB, "c3", "n1")
    assert sorted(await store.members("r"), key=lambda m: m.user_id) == [ANN_PHONE, BOB]


async def test_grace_keeps_user_present_until_expiry(store: PresenceStore, clock: FakeClock) -> None:
    await store.add("r", ANN, "c1", "n1")
    assert await store.remove("r", "ann", "c1", grace=5) is None
    assert await store.members("r") == [ANN]
    assert not await store.is_connected("r", "ann")
    clock.now += 4.9
    assert await store.expire() == []
    clock.now += 0.2
    [departure] = await store.expire()
    assert (departure.room, departure.member) == ("r", ANN)
    assert await store.members("r") == []
    assert await store.expire() == []


async def test_return_within_grace_is_no_transition(store: PresenceStore, clock: FakeClock) -> None:
    await store.add("r", ANN, "c1", "n1")
    await store.remove("r", "ann", "c1", grace=5)
    clock.now += 3
    assert await store.add("r", ANN, "c9", "n2") is False
    clock.now += 10
    assert await store.expire() == []
    assert await store.is_connected("r", "ann")


async def test_unknown_connection_removal_is_harmless(store: PresenceStore) -> None:
    assert await store.remove("r", "ann", "nope", grace=0) is None
    await store.add("r", ANN, "c1", "n1")
    assert await store.remove("r", "ann", "other", grace=0) is None
    assert await store.is_connected("r", "ann")


async def test_rooms_are_independent(store: PresenceStore) -> None:
    await store.add("a", ANN, "c1", "n1")
    assert await store.add("b", ANN, "c1", "n1") is True
    assert await store.remove("a", "ann", "c1", grace=0) == ANN
    assert await store.members("b") == [ANN]
