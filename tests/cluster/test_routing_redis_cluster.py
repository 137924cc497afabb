"""Per-room routing on a real Redis Cluster of three masters: rooms'
channels live on the shard of their slot, nodes still reach each other for
chat, presence and typing, and the ``client_id`` race stores one message."""
from __future__ import annotations

import asyncio
import time

from redis.crc import key_slot

from chatio.constants import CHAT_NAMESPACE, PRESENCE_NAMESPACE, TYPING_NAMESPACE
from support import assert_ok
from support.metrics import scrape
from support.multi import client_pool, presence_event, typing_event
from support.readiness import wait_ready

RECEIVED = "chatio_pubsub_messages_received_total"
TIMEOUT = 30.0


def rooms_on_distinct_shards(cluster, count: int) -> list[str]:
    """``count`` room names whose channels' slots have distinct masters."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < count:
        room = f"room{n}"
        port = cluster.master_of(room).port
        found.setdefault(port, room)
        n += 1
    return list(found.values())


async def test_chat_crosses_nodes_in_rooms_on_every_shard(
        redis_cluster, start_node, connect):
    node_a = await start_node(redis_cluster)
    node_b = await start_node(redis_cluster)
    await wait_ready(node_a.url, True, TIMEOUT)
    await wait_ready(node_b.url, True, TIMEOUT)
    alice = await connect(node_a, "alice")
    bob = await connect(node_b, "bob")
    rooms = rooms_on_distinct_shards(redis_cluster, 3)
    for room in rooms:
        assert_ok(await alice.join(room))
        assert_ok(await bob.join(room))
    for room in rooms:
        sent = assert_ok(await alice.send(room, f"hello {room}"))["message"]
        assert await bob.next("message") == sent
        reply = assert_ok(await bob.send(room, f"back {room}"))["message"]
        assert await alice.next("message") == reply


async def test_a_node_without_members_hears_nothing_on_a_cluster(
        redis_cluster, start_node, connect):
    busy = await start_node(redis_cluster)
    idle = await start_node(redis_cluster)
    await wait_ready(idle.url, True, TIMEOUT)
    alice = await connect(busy, "alice")
    bob = await connect(busy, "bob")
    assert_ok(await alice.join("busy"))
    assert_ok(await bob.join("busy"))
    before = (await scrape(idle.url)).value(RECEIVED)
    for n in range(20):
        assert_ok(await alice.send("busy", f"m{n}"))
    await bob.collect("message", 20)
    assert (await scrape(idle.url)).value(RECEIVED) == before


async def test_presence_and_typing_cross_nodes_on_a_cluster(
        redis_cluster, start_node, token):
    node_a = await start_node(redis_cluster)
    node_b = await start_node(redis_cluster)
    await wait_ready(node_b.url, True, TIMEOUT)
    async with client_pool(token) as pool:
        watcher = await pool.connect(
            node_b, "alice", namespaces=(PRESENCE_NAMESPACE, TYPING_NAMESPACE))
        await watcher.subscribe(PRESENCE_NAMESPACE, "lobby")
        await watcher.subscribe(TYPING_NAMESPACE, "lobby")
        bob = await pool.connect(node_a, "bob",
                                 namespaces=(CHAT_NAMESPACE, TYPING_NAMESPACE),
                                 name="Bob")
        await bob.join("lobby")
        assert await watcher.next(PRESENCE_NAMESPACE, "presence") == \
            presence_event("lobby", "bob", "Bob", "joined")
        assert await bob.typing("lobby", True) == {"ok": True}
        assert await watcher.next(TYPING_NAMESPACE, "typing") == typing_event(
            "lobby", "bob", "Bob", True)


async def test_the_client_id_race_across_nodes_stores_one_message(
        redis_cluster, start_node, connect):
    node_a = await start_node(redis_cluster)
    node_b = await start_node(redis_cluster)
    await wait_ready(node_b.url, True, TIMEOUT)
    alice_a = await connect(node_a, "alice")
    alice_b = await connect(node_b, "alice")
    watcher = await connect(node_b, "carol")
    for client in (alice_a, alice_b, watcher):
        assert_ok(await client.join("race"))
    acks = await asyncio.gather(
        alice_a.send("race", "once", client_id="same-id"),
        alice_b.send("race", "once", client_id="same-id"))
    messages = [assert_ok(ack)["message"] for ack in acks]
    assert messages[0]["seq"] == messages[1]["seq"] == 1
    assert (await watcher.next("message"))["seq"] == 1
    await watcher.roundtrip()
    assert watcher.pending("message") == []


PRESENCE_TTL = 2.0
GRACE = 1.0
DEPARTURE_DEADLINE = PRESENCE_TTL + GRACE + 5.0


async def test_kill_9_of_a_node_on_a_redis_cluster(start_cluster, puppet):
    cluster = await start_cluster(redis_cluster=True,
                                  CHATIO_PRESENCE_TTL=str(PRESENCE_TTL),
                                  CHATIO_PRESENCE_GRACE=str(GRACE))
    doomed, two, three = cluster.nodes
    for node in cluster.nodes:
        await wait_ready(node.url, True, TIMEOUT)
    await puppet.connect("watcher", three.url, cluster.token("w"),
                         [PRESENCE_NAMESPACE])
    ack = await puppet.call("watcher", PRESENCE_NAMESPACE, "subscribe",
                            {"room": "lobby"})
    assert ack["ok"], ack
    for client, node, user in (("alice", doomed, "alice"),
                               ("bob", two, "bob")):
        await puppet.connect(client, node.url,
                             cluster.token(user, name=user.title()),
                             [CHAT_NAMESPACE])
        ack = await puppet.call(client, CHAT_NAMESPACE, "join",
                                {"room": "lobby"})
        assert ack["ok"], ack
    seen = [await puppet.next("watcher", PRESENCE_NAMESPACE, "presence")
            for _ in range(2)]
    assert sorted(e["user"]["id"] for e in seen) == ["alice", "bob"]

    doomed.kill()
    event = await puppet.next("watcher", PRESENCE_NAMESPACE, "presence",
                              timeout=DEPARTURE_DEADLINE)
    assert event == presence_event("lobby", "alice", "Alice", "left")
    # The survivors still route the room between them.
    await puppet.connect("carol", three.url, cluster.token("carol"),
                         [CHAT_NAMESPACE])
    ack = await puppet.call("carol", CHAT_NAMESPACE, "join", {"room": "lobby"})
    assert ack["ok"], ack
    sent = await puppet.call("bob", CHAT_NAMESPACE, "message",
                             {"room": "lobby", "text": "still here",
                              "client_id": "after-kill"})
    assert sent["ok"], sent
    assert await puppet.next("carol", CHAT_NAMESPACE, "message") == \
        sent["message"]
    await asyncio.sleep(PRESENCE_TTL + GRACE)
    await puppet.call("watcher", PRESENCE_NAMESPACE, "unsubscribe",
                      {"room": "other"})
    assert [e for e in puppet.pending("watcher", PRESENCE_NAMESPACE,
                                      "presence")
            if e["user"]["id"] == "alice"] == []


HEAL_LIMIT = 20.0


async def _stored(client, room: str, text: str) -> dict:
    """Send with one ``client_id`` until stored, as a client retries
    ``UNAVAILABLE``."""
    deadline = time.monotonic() + HEAL_LIMIT
    while True:
        ack = await client.call("message", {"room": room, "text": text,
                                            "client_id": text})
        if ack.get("ok"):
            return ack["message"]
        assert ack["error"]["code"] == "UNAVAILABLE", ack
        assert time.monotonic() < deadline, f"{room} did not heal"
        await asyncio.sleep(0.2)


async def _heard_again(sender, listener, room: str, label: str) -> None:
    """``listener`` on another node hears ``room`` again: ``sender`` sends
    until one of its messages arrives. Those sent before the listener's
    node resubscribed are only in history, as after any Redis outage."""
    deadline = time.monotonic() + HEAL_LIMIT
    n = 0
    while True:
        sent = await _stored(sender, room, f"{label} {n}")
        n += 1
        try:
            while True:
                got = await listener.next("message", timeout=1.0)
                if (got["room"], got["seq"]) == (room, sent["seq"]):
                    assert got == sent
                    return
        except asyncio.TimeoutError:
            assert time.monotonic() < deadline, f"{room} is not heard again"


def _replicas(cluster, master) -> set[int]:
    """The ports of ``master``'s replicas, once the cluster shows them."""
    deadline = time.monotonic() + TIMEOUT
    while not (ports := {r.port for r in cluster.replicas_of(master)}):
        assert time.monotonic() < deadline, "no replica attached"
        time.sleep(0.05)
    return ports


def _promoted(cluster, room: str, replicas: set[int]) -> None:
    """Until one of ``replicas`` serves ``room``'s slot as a master."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            if cluster.master_of(room).port in replicas:
                break
        except (LookupError, OSError, RuntimeError):
            pass
        assert time.monotonic() < deadline, "no replica was promoted"
        time.sleep(0.05)
    cluster.wait_ok()


async def test_rooms_are_heard_again_at_a_promoted_replica(
        make_redis_cluster, start_node, connect):
    cluster = make_redis_cluster(replicas=1)
    seed = cluster.nodes[0]
    victim = next(m for m in cluster.current_masters() if m is not seed)
    replicas = await asyncio.to_thread(_replicas, cluster, victim)
    moved = cluster.name_served_by(victim, "moved-{}")
    kept = cluster.name_served_by(seed, "kept-{}")
    node_a = await start_node(cluster)
    node_b = await start_node(cluster)
    await wait_ready(node_b.url, True, TIMEOUT)
    alice = await connect(node_a, "alice")
    bob = await connect(node_b, "bob")
    for room in (moved, kept):
        assert_ok(await alice.join(room))
        assert_ok(await bob.join(room))
    cluster.wait_replicas_synced()

    cluster.kill(victim)
    await asyncio.to_thread(_promoted, cluster, moved, replicas)
    # bob's node resubscribed at the promoted replica: it hears the moved
    # room again, and the other room never stopped.
    for room in (moved, kept):
        await _heard_again(alice, bob, room, f"after {room}")


async def test_rooms_are_heard_again_when_their_master_returns(
        make_redis_cluster, start_node, connect):
    cluster = make_redis_cluster()
    seed = cluster.nodes[0]
    victim = next(m for m in cluster.current_masters() if m is not seed)
    lost = cluster.name_served_by(victim, "lost-{}")
    node_a = await start_node(cluster)
    node_b = await start_node(cluster)
    await wait_ready(node_b.url, True, TIMEOUT)
    alice = await connect(node_a, "alice")
    bob = await connect(node_b, "bob")
    assert_ok(await alice.join(lost))
    assert_ok(await bob.join(lost))
    cluster.kill(victim)
    await asyncio.to_thread(cluster.restart, victim)
    await asyncio.to_thread(cluster.wait_ok)
    await _heard_again(alice, bob, lost, "after the restart")


def _migrate_slot(cluster, slot: int, source, target) -> None:
    """Move ``slot`` with its keys from ``source`` to ``target`` the way
    ``redis-cli --cluster reshard`` does."""
    import redis
    ids = {v.port: v.node_id for v in cluster.view()}
    src = redis.Redis(source.host, source.port)
    dst = redis.Redis(target.host, target.port)
    try:
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING",
                            ids[source.port])
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING",
                            ids[target.port])
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot,
                                          100):
            src.execute_command("MIGRATE", target.host, target.port, "", 0,
                                5000, "KEYS", *keys)
        for master in cluster.current_masters():
            with redis.Redis(master.host, master.port) as client:
                client.execute_command("CLUSTER", "SETSLOT", slot, "NODE",
                                       ids[target.port])
    finally:
        src.close()
        dst.close()
    cluster.wait_ok()


async def test_a_room_whose_slot_migrates_is_heard_at_its_new_shard(
        make_redis_cluster, start_node, connect):
    cluster = make_redis_cluster()
    source, target = cluster.current_masters()[1:3]
    room = cluster.name_served_by(source, "migrating-{}")
    node_a = await start_node(cluster)
    node_b = await start_node(cluster)
    await wait_ready(node_b.url, True, TIMEOUT)
    alice = await connect(node_a, "alice")
    bob = await connect(node_b, "bob")
    assert_ok(await alice.join(room))
    assert_ok(await bob.join(room))
    await _heard_again(alice, bob, room, "before the move")

    await asyncio.to_thread(_migrate_slot, cluster, key_slot(room.encode()),
                            source, target)
    assert cluster.master_of(room).port == target.port
    await _heard_again(alice, bob, room, "after the move")
