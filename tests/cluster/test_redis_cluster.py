"""Nodes whose every store is on a real Redis Cluster (three masters
started by the test): chat across nodes, and what a killed master does to
the rooms in its slots, with and without a replica to promote."""
from __future__ import annotations

import asyncio
import time

from chatio.constants import UNAVAILABLE
from support import assert_error, assert_ok

# How long a room may answer UNAVAILABLE once its master is back or its
# replica promoted.
HEAL_LIMIT = 15.0
RETRY_DELAY = 0.1  # between retries of a refused send, as a client waits
NEUTRAL = "storage is unavailable, try again"


async def test_messages_reach_sockets_on_every_node(
        redis_cluster, start_node, connect):
    node_a = await start_node(redis_cluster)
    node_b = await start_node(redis_cluster)
    alice = await connect(node_a, "alice")
    bob = await connect(node_b, "bob")
    assert_ok(await alice.join("lobby"))
    assert_ok(await bob.join("lobby"))
    sent = assert_ok(await alice.send("lobby", "hello from a"))["message"]
    assert await bob.next("message") == sent
    reply = assert_ok(await bob.send("lobby", "hello from b"))["message"]
    assert await alice.next("message") == reply
    assert (sent["seq"], reply["seq"]) == (1, 2)


async def send(client, room: str, n: int) -> dict:
    """Message ``n`` of ``room`` with its own client_id: the same call is a
    retry of the same message."""
    return await client.call("message", {"room": room, "text": f"{room} {n}",
                                         "client_id": f"{room}-{n}"})


async def send_until_stored(client, room: str, n: int,
                            within: float = HEAL_LIMIT) -> dict:
    """Retry message ``n`` as a client does, with its client_id, while the
    node answers UNAVAILABLE; the stored message."""
    deadline = time.monotonic() + within
    while True:
        ack = await send(client, room, n)
        if ack.get("ok"):
            return ack["message"]
        assert_error(ack, UNAVAILABLE)
        assert time.monotonic() < deadline, f"{room} did not heal"
        await asyncio.sleep(RETRY_DELAY)


async def assert_history_is(client, room: str, acked: list[dict]) -> None:
    """History holds exactly the acked messages, once each, in seq order
    1..n."""
    page = await client.history(room, limit=100)
    stored = [(m["seq"], m["client_id"], m["text"]) for m in page["messages"]]
    assert stored == [(m["seq"], m["client_id"], m["text"]) for m in acked]
    assert [seq for seq, _, _ in stored] == list(range(1, len(acked) + 1))


async def test_a_dead_master_fails_only_its_rooms_and_they_heal_when_it_returns(
        make_redis_cluster, start_node, connect):
    cluster = make_redis_cluster()
    seed = cluster.nodes[0]  # pub/sub subscribes here: keep it up
    victim = next(m for m in cluster.current_masters() if m is not seed)
    lost = cluster.name_served_by(victim, "lost-{}")
    kept = cluster.name_served_by(seed, "kept-{}")
    node = await start_node(cluster)
    alice = await connect(node, "alice")
    acked: dict[str, list[dict]] = {lost: [], kept: []}
    for room in (lost, kept):
        assert_ok(await alice.join(room))
        for n in range(3):
            acked[room].append(assert_ok(await send(alice, room, n))["message"])

    cluster.kill(victim)
    # The rooms in the dead master's slots answer UNAVAILABLE, with the
    # documented neutral message; the others go on.
    error = assert_error(await send(alice, lost, 3), UNAVAILABLE)
    assert error["message"] == NEUTRAL
    assert_error(await alice.call("history", {"room": lost}), UNAVAILABLE)
    for n in range(3, 6):
        acked[kept].append(assert_ok(await send(alice, kept, n))["message"])

    cluster.restart(victim)
    cluster.wait_ok()
    # Retried with its client_id, the refused message is stored once.
    acked[lost].append(await send_until_stored(alice, lost, 3))
    acked[lost].append(assert_ok(await send(alice, lost, 4))["message"])
    # A retry of a message stored before the kill is a duplicate, not news.
    again = assert_ok(await send(alice, lost, 0))
    assert again["duplicate"] is True
    assert again["message"]["seq"] == acked[lost][0]["seq"]
    for room in (lost, kept):
        await assert_history_is(alice, room, acked[room])


async def test_a_promoted_replica_takes_over_a_dead_masters_rooms(
        make_redis_cluster, start_node, connect):
    cluster = make_redis_cluster(replicas=1)
    seed = cluster.nodes[0]
    victim = next(m for m in cluster.current_masters() if m is not seed)
    room = cluster.name_served_by(victim, "moved-{}")
    node = await start_node(cluster)
    alice = await connect(node, "alice")
    assert_ok(await alice.join(room))
    acked = [assert_ok(await send(alice, room, n))["message"]
             for n in range(5)]
    # Replication is asynchronous: let the replica catch up on what was
    # acked, as the test means to lose nothing.
    cluster.wait_replicas_synced()

    cluster.kill(victim)
    promoted = cluster.wait_promoted(victim)
    assert promoted.port in [r.port for r in cluster.nodes if r is not victim]
    # Within the heal limit the room works again, on the promoted replica,
    # and messages retried with their client_id are stored once.
    for n in range(5, 10):
        acked.append(await send_until_stored(alice, room, n))
    await assert_history_is(alice, room, acked)

    # The old master comes back as a replica; nothing changes for clients.
    cluster.restart(victim)
    cluster.wait_ok()
    acked.append(assert_ok(await send(alice, room, 10))["message"])
    await assert_history_is(alice, room, acked)
