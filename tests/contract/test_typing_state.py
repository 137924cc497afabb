"""The TypingState contract, run against every implementation, and what a
cluster of nodes sharing one Redis relies on."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from support import RedisServer
from support.clock import FakeClock
from support.redis_cluster import RedisClusterServer
from support.redis_contents import admin_client

from chatio.errors import Unavailable
from chatio.redis_client import new_client
from chatio.typing_state import MemoryTypingState, Typist, TypingState
from chatio.typing_state.redis import RedisTypingState

ANN = Typist("r", "ann", "Ann")
WAIT = 10.0


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
def state(request: pytest.FixtureRequest, clock: FakeClock,
          redis_clients: list[aioredis.Redis]) -> TypingState:
    if request.param == "memory":
        return MemoryTypingState(clock=clock)
    server = request.getfixturevalue(
        "redis_cluster" if request.param == "redis-cluster" else "redis_server")
    client = new_client(server.url)
    redis_clients.append(client)
    return RedisTypingState(client, request.getfixturevalue("redis_prefix"),
                            clock=clock)


async def test_only_the_first_start_is_a_transition(state: TypingState) -> None:
    assert await state.start(ANN, ttl=6) is True
    assert await state.start(ANN, ttl=6) is False


async def test_stop_reports_whether_it_was_typing(state: TypingState) -> None:
    assert await state.stop("r", "ann") is None
    await state.start(ANN, ttl=6)
    assert await state.stop("r", "ann") == ANN
    assert await state.stop("r", "ann") is None


async def test_refresh_extends_the_expiry(state: TypingState, clock: FakeClock) -> None:
    await state.start(ANN, ttl=6)
    clock.now += 5
    await state.start(ANN, ttl=6)
    clock.now += 5
    assert await state.expire() == []
    clock.now += 1.5
    assert await state.expire() == [ANN]
    assert await state.start(ANN, ttl=6) is True


async def test_typists_are_per_user_per_room(state: TypingState,
                                             clock: FakeClock) -> None:
    ann_elsewhere, bob = Typist("s", "ann", "Ann"), Typist("r", "bob", "Bob")
    assert [await state.start(t, ttl=6) for t in (ANN, ann_elsewhere, bob)] \
        == [True, True, True]
    assert await state.stop("s", "ann") == ann_elsewhere
    clock.now += 7
    assert sorted(await state.expire(), key=lambda t: t.user_id) == [ANN, bob]
    assert await state.expire() == []


async def test_a_refresh_takes_the_newest_name(state: TypingState) -> None:
    await state.start(ANN, ttl=6)
    renamed = Typist("r", "ann", "Ann B.")
    assert await state.start(renamed, ttl=6) is False
    assert await state.stop("r", "ann") == renamed


# -- Redis: what a cluster of nodes sharing one Redis relies on ---------------

@pytest.fixture
def make_node(shared_redis: RedisServer | RedisClusterServer, redis_prefix: str,
              redis_clients: list[aioredis.Redis]
              ) -> Callable[..., RedisTypingState]:
    """A node's typing state on its own connection pool, on the test's
    prefix, timed by Redis."""
    def make(server: RedisServer | None = None,
             batch: int = 1000) -> RedisTypingState:
        client = new_client((server or shared_redis).url)
        redis_clients.append(client)
        return RedisTypingState(client, redis_prefix, batch=batch)
    return make


async def test_redis_start_and_stop_are_one_transition_across_nodes(
        make_node: Callable[..., RedisTypingState]) -> None:
    one, two = make_node(), make_node()
    for n in range(50):
        typist = Typist(f"r{n}", "ann", "Ann")
        started = await asyncio.gather(
            *(node.start(typist, ttl=60) for node in (one, two, one, two)))
        assert started.count(True) == 1, n
        stopped = await asyncio.gather(
            *(node.stop(typist.room, "ann") for node in (one, two, one, two)))
        assert [s for s in stopped if s is not None] == [typist], n


async def test_redis_each_expiry_goes_to_exactly_one_node(
        make_node: Callable[..., RedisTypingState]) -> None:
    nodes = [make_node(batch=7) for _ in range(3)]
    for round_ in range(5):
        typists = [Typist(f"r{i % 4}", f"u{round_}-{i}", f"U{i}")
                   for i in range(30)]
        for i, typist in enumerate(typists):
            assert await nodes[i % 3].start(typist, ttl=0.05)
        expired: list[Typist] = []
        deadline = time.monotonic() + WAIT
        while len(expired) < len(typists):
            assert time.monotonic() < deadline, "typists did not expire"
            for batch in await asyncio.gather(
                    *(node.expire() for node in nodes for _ in range(2))):
                assert len(batch) <= 7
                expired.extend(batch)
            await asyncio.sleep(0.02)  # polling interval
        assert sorted(expired, key=lambda t: t.user_id) == \
            sorted(typists, key=lambda t: t.user_id)
        assert await nodes[0].stop("r0", f"u{round_}-0") is None


async def test_redis_refresh_on_another_node_postpones_expiry(
        make_node: Callable[..., RedisTypingState]) -> None:
    one, two = make_node(), make_node()
    assert await one.start(ANN, ttl=0.3) is True
    assert await two.start(ANN, ttl=60) is False
    # Long past the first TTL, the refresh holds.
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        assert await one.expire() == []
        await asyncio.sleep(0.05)  # polling interval
    assert await two.stop("r", "ann") == ANN


async def test_redis_ids_with_separators_stay_distinct(
        make_node: Callable[..., RedisTypingState]) -> None:
    node = make_node()
    one, two = Typist("a:b", "c", "One"), Typist("a", "b:c", "Two")
    assert await node.start(one, ttl=60) is True
    assert await node.start(two, ttl=60) is True
    assert await node.stop("a", "b:c") == two
    assert await node.stop("a:b", "c") == one


async def test_redis_down_is_unavailable_and_recovers(
        own_redis_server: RedisServer,
        make_node: Callable[..., RedisTypingState]) -> None:
    state = make_node(own_redis_server)
    assert await state.start(ANN, ttl=60) is True
    own_redis_server.kill()
    for call in (state.start(ANN, ttl=60), state.stop("r", "ann"),
                 state.expire()):
        with pytest.raises(Unavailable):
            await call
    own_redis_server.restart()  # without persistence: the typist is lost
    assert await state.stop("r", "ann") is None
    assert await state.start(ANN, ttl=60) is True
