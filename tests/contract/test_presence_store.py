"""The PresenceStore contract, run against every implementation, and what
a cluster of nodes sharing one Redis relies on."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
import redis.asyncio as aioredis
from support import RedisServer
from support.clock import FakeClock
from support.redis_cluster import RedisClusterServer
from support.redis_contents import admin_client

from chatio.errors import Unavailable
from chatio.presence import Departure, Member, MemoryPresenceStore, PresenceStore
from chatio.presence.memory import Connection
from chatio.presence.redis import RedisPresenceStore
from chatio.redis_client import new_client

ANN, ANN_PHONE = Member("ann", "Ann"), Member("ann", "Ann (phone)")
BOB = Member("bob", "Bob")

T = TypeVar("T")


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
def store(request: pytest.FixtureRequest, clock: FakeClock,
          redis_clients: list[aioredis.Redis]) -> PresenceStore:
    if request.param == "memory":
        return MemoryPresenceStore(clock=clock)
    server = request.getfixturevalue(
        "redis_cluster" if request.param == "redis-cluster" else "redis_server")
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


async def test_devices_count_live_connections_per_user(store: PresenceStore) -> None:
    assert await store.devices("r") == {}
    await store.add("r", ANN, "c1", "n1")
    await store.add("r", ANN_PHONE, "c2", "n2")
    await store.add("r", BOB, "c3", "n1")
    await store.add("other", BOB, "c4", "n1")
    assert await store.devices("r") == {"ann": 2, "bob": 1}
    await store.remove("r", "bob", "c3", grace=5)
    assert await store.devices("r") == {"ann": 2, "bob": 0}


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


async def test_concurrent_removals_report_one_departure(store: PresenceStore) -> None:
    await store.add("r", ANN, "c1", "n1")
    await store.add("r", ANN_PHONE, "c2", "n2")
    results = await asyncio.gather(store.remove("r", "ann", "c1", grace=0),
                                   store.remove("r", "ann", "c2", grace=0))
    assert [r for r in results if r is not None] == [ANN_PHONE]


async def test_heartbeat_of_a_store_that_loses_nothing(store: PresenceStore) -> None:
    if isinstance(store, RedisPresenceStore):
        await store.reregister("n1", [])
    assert await store.heartbeat("n1") is False


# -- Redis: what a cluster of nodes sharing one Redis relies on ---------------

# Short enough for tests, long enough that a busy machine does not declare a
# node dead between two of its heartbeats.
TTL = 1.0
GRACE = 2.0
WAIT = 10.0


async def eventually(check: Callable[[], Awaitable[T]],
                     timeout: float = WAIT) -> T:
    """Poll ``check`` until it returns something true; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        assert time.monotonic() < deadline, f"not within {timeout}s"
        await asyncio.sleep(0.02)  # polling interval
    return result


@pytest.fixture
def make_node(shared_redis: RedisServer | RedisClusterServer, redis_prefix: str,
              redis_clients: list[aioredis.Redis]
              ) -> Callable[..., RedisPresenceStore]:
    """A node's store on its own connection pool, on the test's prefix."""
    def make(node_id: str, server: RedisServer | None = None,
             **options: float) -> RedisPresenceStore:
        client = new_client((server or shared_redis).url)
        redis_clients.append(client)
        options.setdefault("ttl", TTL)
        options.setdefault("grace", GRACE)
        return RedisPresenceStore(client, redis_prefix, node_id, **options)
    return make


def by_user(members: list[Member]) -> list[Member]:
    return sorted(members, key=lambda m: m.user_id)


async def test_redis_first_join_is_reported_once_across_nodes(
        make_node: Callable[..., RedisPresenceStore]) -> None:
    one, two = make_node("n1"), make_node("n2")
    for n in range(50):
        room = f"r{n}"
        firsts = await asyncio.gather(
            one.add(room, ANN, "c1", "n1"), two.add(room, ANN_PHONE, "c2", "n2"),
            one.add(room, ANN, "c3", "n1"), two.add(room, ANN, "c4", "n2"))
        assert firsts.count(True) == 1, n


async def test_redis_last_leave_is_reported_once_across_nodes(
        make_node: Callable[..., RedisPresenceStore]) -> None:
    one, two = make_node("n1"), make_node("n2")
    for n in range(50):
        room = f"r{n}"
        await one.add(room, ANN, "c1", "n1")
        await two.add(room, ANN_PHONE, "c2", "n2")
        results = await asyncio.gather(one.remove(room, "ann", "c1", grace=0),
                                       two.remove(room, "ann", "c2", grace=0))
        assert [r for r in results if r is not None] == [ANN_PHONE], n
        assert await one.members(room) == []


async def test_redis_two_devices_on_two_nodes_join_once_and_leave_once(
        make_node: Callable[..., RedisPresenceStore]) -> None:
    one, two = make_node("n1"), make_node("n2")
    assert await one.add("r", ANN, "c1", "n1") is True
    assert await two.add("r", ANN_PHONE, "c2", "n2") is False
    assert await one.members("r") == [ANN_PHONE]
    assert await one.remove("r", "ann", "c1", grace=GRACE) is None
    assert await two.is_connected("r", "ann")
    assert await two.remove("r", "ann", "c2", grace=0) == ANN_PHONE
    assert await one.members("r") == []
    assert not await one.is_connected("r", "ann")


async def test_redis_each_grace_expiry_goes_to_exactly_one_node(
        make_node: Callable[..., RedisPresenceStore]) -> None:
    nodes = [make_node(f"n{i}") for i in range(3)]
    for round_ in range(5):
        users = [Member(f"u{round_}-{i}", f"User {i}") for i in range(30)]
        for i, user in enumerate(users):
            node = nodes[i % 3]
            await node.add("r", user, f"c{round_}-{i}", node.node_id)
        for i, user in enumerate(users):
            await nodes[i % 3].remove("r", user.user_id, f"c{round_}-{i}",
                                      grace=0.05)
        departed: list[Departure] = []

        async def all_departed() -> bool:
            for batch in await asyncio.gather(
                    *(node.expire() for node in nodes for _ in range(2))):
                departed.extend(batch)
            return len(departed) >= len(users)

        await eventually(all_departed)
        assert sorted(d.member.user_id for d in departed) == \
            sorted(u.user_id for u in users)
        assert {d.room for d in departed} == {"r"}
        assert await nodes[0].members("r") == []


async def test_redis_dead_node_is_swept_once_and_its_users_depart_after_grace(
        make_node: Callable[..., RedisPresenceStore]) -> None:
    dead, one, two = make_node("dead"), make_node("n1"), make_node("n2")
    carol, dave, eve = (Member("carol", "Carol"), Member("dave", "Dave"),
                        Member("eve", "Eve"))
    for node in (dead, one, two):
        assert await node.heartbeat(node.node_id) is True
        await node.reregister(node.node_id, [])
    await dead.add("r", ANN, "d1", "dead")
    await one.add("r", ANN_PHONE, "c1", "n1")      # ann stays: a socket on n1
    await dead.add("r", BOB, "d2", "dead")         # bob departs after grace
    await dead.add("s", carol, "d3", "dead")       # so does carol
    await dead.add("r", dave, "d4", "dead")        # dave moves before the sweep
    await dead.add("r", eve, "d5", "dead")         # eve moves during grace
    departed: list[Departure] = []

    async def survive() -> None:
        """Both survivors heartbeat and sweep, racing each other."""
        for batch in await asyncio.gather(
                *(node.heartbeat(node.node_id) for node in (one, two)),
                *(node.expire() for node in (one, two, one, two))):
            if isinstance(batch, list):
                departed.extend(batch)

    # "dead" stops heartbeating now; dave reconnects to n2 at once.
    assert await two.add("r", dave, "c2", "n2") is False

    async def swept() -> bool:
        await survive()
        return not await one.is_connected("r", "bob")

    await eventually(swept)
    assert not await one.is_connected("s", "carol")
    assert await one.is_connected("r", "ann")
    # Still present during their grace period.
    assert by_user(await one.members("r")) == [ANN_PHONE, BOB, dave, eve]
    assert await one.members("s") == [carol]
    assert await two.add("r", eve, "c3", "n2") is False  # back within grace

    async def gone() -> bool:
        await survive()
        return len(departed) >= 2

    await eventually(gone)
    for _ in range(5):
        await survive()
    assert sorted(departed, key=lambda d: d.room) == [
        Departure("r", BOB), Departure("s", carol)]
    assert by_user(await two.members("r")) == [ANN_PHONE, dave, eve]
    assert await two.members("s") == []
    # Only the survivors' entries are left.
    client = new_client_for(one)
    assert [k async for k in client.scan_iter(
        f"{one._base}:node:{{dead}}:*")] == []  # noqa: SLF001
    owners = await client.hgetall(f"{one._base}:room:{{r}}:conns")  # noqa: SLF001
    assert {conn: owner.split(b" ", 1)[1] for conn, owner in owners.items()} \
        == {b"3:annc1": b"n1", b"4:davec2": b"n2", b"3:evec3": b"n2"}


async def test_redis_sweep_of_a_large_dead_node_goes_in_batches(
        make_node: Callable[..., RedisPresenceStore]) -> None:
    dead, one, two = (make_node("dead", batch=7), make_node("n1", batch=7),
                      make_node("n2", batch=7))
    users = [Member(f"u{i}", f"U{i}") for i in range(40)]
    for i, user in enumerate(users):
        await dead.add("r", user, f"c{i}", "dead")
    await one.heartbeat("n1")
    await two.heartbeat("n2")
    departed: list[Departure] = []

    async def all_departed() -> bool:
        for node in (one, two):
            await node.heartbeat(node.node_id)
        for batch in await asyncio.gather(one.expire(), two.expire()):
            assert len(batch) <= 7
            departed.extend(batch)
        return len(departed) >= len(users)

    await eventually(all_departed, timeout=WAIT + GRACE)
    assert by_user([d.member for d in departed]) == by_user(users)
    assert await one.members("r") == []


async def test_redis_reregister_replaces_the_nodes_entries_quietly(
        make_node: Callable[..., RedisPresenceStore]) -> None:
    one, two = make_node("n1"), make_node("n2")
    assert await one.heartbeat("n1") is True  # a new process: re-register
    await one.add("r", ANN, "stale", "n1")    # a previous process's socket
    await one.add("r", BOB, "bob-stale", "n1")
    await two.add("r", BOB, "bob-2", "n2")
    carol = Member("carol", "Carol")
    await one.reregister("n1", [Connection("r", ANN, "c1", "n1"),
                                Connection("s", carol, "c2", "n1")])
    assert await one.heartbeat("n1") is False
    assert await one.is_connected("r", "ann")
    assert await one.members("s") == [carol]  # added without a transition
    # The stale socket is gone; bob still has his socket on n2.
    assert await two.remove("r", "ann", "stale", grace=0) is None
    assert await two.remove("r", "bob", "bob-stale", grace=0) is None
    assert await two.is_connected("r", "bob")
    # Dropping a user's last entry starts their grace period.
    await one.reregister("n1", [Connection("r", ANN, "c1", "n1")])
    assert await one.members("s") == [carol]
    assert not await one.is_connected("s", "carol")

    async def expired() -> list[Departure]:
        await one.heartbeat("n1")
        await two.heartbeat("n2")
        return await one.expire()

    assert await eventually(expired, timeout=WAIT + GRACE) == [
        Departure("s", carol)]
    assert by_user(await two.members("r")) == [ANN, BOB]


async def test_redis_writes_during_reregister_are_not_undone(
        make_node: Callable[..., RedisPresenceStore]) -> None:
    store = make_node("n1")
    script = store._reregister  # noqa: SLF001

    async def slow_reregister(**kwargs: object) -> object:
        # The network may deliver a later write first: delay this one.
        await asyncio.sleep(0.05)
        return await script(**kwargs)

    store._reregister = slow_reregister  # noqa: SLF001
    for n in range(5):
        await store.add("r", ANN, f"a{n}", "n1")
        local = [Connection("r", ANN, f"a{n}", "n1")]
        # Both are made after the snapshot was taken: neither may be undone.
        await asyncio.gather(store.reregister("n1", local),
                             store.add("r", BOB, f"b{n}", "n1"),
                             store.remove("r", "ann", f"a{n}", grace=0))
        assert await store.is_connected("r", "bob"), n
        assert not await store.is_connected("r", "ann"), n
        await store.remove("r", "bob", f"b{n}", grace=0)


async def test_redis_node_swept_while_alive_is_told_to_reregister(
        make_node: Callable[..., RedisPresenceStore]) -> None:
    slow, other = make_node("slow"), make_node("other")
    await slow.heartbeat("slow")
    await slow.reregister("slow", [])
    await slow.add("r", ANN, "c1", "slow")
    assert await slow.heartbeat("slow") is False

    async def swept() -> bool:
        await other.heartbeat("other")
        await other.expire()
        return not await other.is_connected("r", "ann")

    await eventually(swept)
    assert await slow.heartbeat("slow") is True
    await slow.reregister("slow", [Connection("r", ANN, "c1", "slow")])
    assert await slow.heartbeat("slow") is False
    assert await other.is_connected("r", "ann")
    assert await other.members("r") == [ANN]


async def test_redis_outage_longer_than_the_ttl_declares_no_node_dead(
        make_node: Callable[..., RedisPresenceStore], clock: FakeClock) -> None:
    # Redis keeps its clock while the nodes cannot reach it; the fake clock
    # plays that part here.
    one, two, dead = (make_node("n1", clock=clock), make_node("n2", clock=clock),
                      make_node("dead", clock=clock))
    for node in (one, two, dead):
        await node.heartbeat(node.node_id)
        await node.reregister(node.node_id, [])
    await two.add("r", ANN, "c1", "n2")
    await dead.add("r", BOB, "c2", "dead")
    clock.now += TTL + GRACE + 1          # the outage: nobody heartbeats
    await one.heartbeat("n1")             # n1 is back first and sweeps
    assert await one.expire() == []
    clock.now += TTL / 2
    await two.heartbeat("n2")             # n2 is back within a TTL
    assert await one.expire() == []
    clock.now += TTL / 2
    await one.heartbeat("n1")
    await two.heartbeat("n2")
    # A whole TTL after n1 came back, the node that stayed away is dead.
    # Its users' grace counts from its last heartbeat, long over: bob
    # departs at once, and only bob.
    assert await one.expire() + await two.expire() == [Departure("r", BOB)]
    assert await two.is_connected("r", "ann")
    assert await one.members("r") == [ANN]


async def test_redis_keys_are_prefixed_and_cleaned_up(
        make_node: Callable[..., RedisPresenceStore], redis_prefix: str) -> None:
    store = make_node("n:1")
    # Separators inside ids cannot make two entries look alike.
    await store.add("a:b", Member("x:y", "X"), "z", "n:1")
    await store.add("a:b", Member("x", "X2"), "y:z", "n:1")
    await store.add("a", Member("b:x", "B"), "y", "n:1")
    assert by_user(await store.members("a:b")) == [Member("x", "X2"),
                                                   Member("x:y", "X")]
    assert await store.remove("a:b", "x", "y:z", grace=0) == Member("x", "X2")
    assert await store.members("a:b") == [Member("x:y", "X")]
    assert await store.remove("a:b", "x:y", "z", grace=0.01) is None
    await eventually(store.expire)
    await store.remove("a", "b:x", "y", grace=0)
    client = new_client_for(store)
    keys = {key.decode() async for key in
            client.scan_iter(f"{redis_prefix}:*")}
    # Only the node's own liveness, its list of rooms and the due-room
    # index's counters are left: nothing of any room.
    registry = f"{redis_prefix}:presence:{{{redis_prefix}:presence}}"
    assert {f"{registry}:nodes", f"{registry}:alive",
            f"{registry}:gens"} <= keys
    rest = keys - {f"{registry}:nodes", f"{registry}:alive",
                   f"{registry}:gens"}
    assert all(key.startswith(f"{redis_prefix}:presence:node:{{n:1}}:rooms:")
               or (key.startswith(f"{redis_prefix}:presence:grace:")
                   and key.endswith(":marked")) for key in rest), rest


async def test_redis_down_is_unavailable_and_recovers_with_reregister(
        own_redis_server: RedisServer,
        make_node: Callable[..., RedisPresenceStore]) -> None:
    store = make_node("n1", own_redis_server)
    await store.heartbeat("n1")
    await store.reregister("n1", [])
    await store.add("r", ANN, "c1", "n1")
    own_redis_server.kill()
    for call in (store.add("r", BOB, "c2", "n1"),
                 store.remove("r", "ann", "c1", grace=0),
                 store.heartbeat("n1"), store.expire(), store.members("r"),
                 store.is_connected("r", "ann"),
                 store.reregister("n1", [])):
        with pytest.raises(Unavailable):
            await call
    own_redis_server.restart()  # without persistence: everything is lost
    assert await store.heartbeat("n1") is True
    assert await store.members("r") == []
    await store.reregister("n1", [Connection("r", ANN, "c1", "n1"),
                                  Connection("r", BOB, "c2", "n1")])
    assert await store.heartbeat("n1") is False
    assert by_user(await store.members("r")) == [ANN, BOB]
    assert await store.remove("r", "bob", "c2", grace=0) == BOB
    assert await store.add("r", BOB, "c3", "n1") is True


def new_client_for(store: RedisPresenceStore) -> aioredis.Redis:
    """The store's own client (the test's fixtures close it)."""
    return store._client  # noqa: SLF001 - inspecting keys in a test


