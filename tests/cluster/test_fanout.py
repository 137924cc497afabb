"""Delivery across nodes through Redis pub/sub, and what a Redis outage does
to it: every emit reaches every node, volatile ones included, and service
comes back within 10 s of Redis returning, without a restart."""
from __future__ import annotations

import asyncio
import time


from chatio.constants import (CHAT_NAMESPACE, TYPING_NAMESPACE, UNAVAILABLE)
from support import assert_error, assert_ok
from support.metrics import scrape
from support.multi import client_pool, typing_event
from support.readiness import readiness, wait_ready

CHAT, TYPING = CHAT_NAMESPACE, TYPING_NAMESPACE
RECOVERY_LIMIT = 10.0


async def test_messages_reach_sockets_on_every_node(
        redis_server, start_node, connect):
    node_a = await start_node(redis_server)
    node_b = await start_node(redis_server)
    alice = await connect(node_a, "alice")
    bob = await connect(node_b, "bob")
    assert_ok(await alice.join("lobby"))
    assert_ok(await bob.join("lobby"))

    sent = assert_ok(await alice.send("lobby", "hello from a"))["message"]
    assert await bob.next("message") == sent
    reply = assert_ok(await bob.send("lobby", "hello from b"))["message"]
    assert await alice.next("message") == reply
    # One counter for the room, whichever node stored the message.
    assert (sent["seq"], reply["seq"]) == (1, 2)


async def test_volatile_typing_reaches_other_nodes(
        redis_server, start_node, token):
    node_a = await start_node(redis_server)
    node_b = await start_node(redis_server)
    async with client_pool(token) as pool:
        watcher = await pool.connect(node_b, "alice", namespaces=(TYPING,))
        await watcher.subscribe(TYPING, "lobby")
        bob = await pool.connect(node_a, "bob", namespaces=(CHAT, TYPING),
                                 name="Bob")
        await bob.join("lobby")
        assert await bob.typing("lobby", True) == {"ok": True}
        event = await watcher.next(TYPING, "typing")
        assert event == typing_event("lobby", "bob", "Bob", True)


async def test_redis_outage_is_unavailable_and_service_returns_within_10s(
        aof_redis_server, start_node, connect):
    node_a = await start_node(aof_redis_server)
    node_b = await start_node(aof_redis_server)
    await wait_ready(node_a.url, True, RECOVERY_LIMIT)
    await wait_ready(node_b.url, True, RECOVERY_LIMIT)
    alice = await connect(node_a, "alice")
    bob = await connect(node_b, "bob")
    assert_ok(await alice.join("lobby"))
    assert_ok(await bob.join("lobby"))
    first = assert_ok(await alice.send("lobby", "before"))["message"]
    assert await bob.next("message") == first

    aof_redis_server.kill()
    body = await wait_ready(node_a.url, False, RECOVERY_LIMIT)
    assert body["checks"]["history"]["ok"] is False
    assert body["checks"]["history"]["error"]
    # Each node notices the lost subscription on its own.
    body = await wait_ready(node_b.url, False, RECOVERY_LIMIT)
    deadline = time.monotonic() + RECOVERY_LIMIT
    while body["checks"]["pubsub"]["ok"]:
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.1)
        body = (await readiness(node_b.url))[1]
    assert "error" in body["checks"]["pubsub"]
    # Nothing is acked unless it was stored; the sockets stay connected.
    during = {"room": "lobby", "text": "during", "client_id": "c-1"}
    assert_error(await alice.call("message", during), UNAVAILABLE)
    assert_error(await bob.call("history", {"room": "lobby"}), UNAVAILABLE)
    assert alice.connected and bob.connected
    # Leaving is announced from local knowledge; the other node misses it,
    # and the failed publish is counted.
    assert_ok(await alice.leave("lobby"))
    failures = (await scrape(node_a.url)).value(
        "chatio_redis_publish_failures_total")
    assert failures is not None and failures >= 1

    aof_redis_server.start()
    returned = time.monotonic()
    await wait_ready(node_a.url, True, RECOVERY_LIMIT)
    await wait_ready(node_b.url, True, RECOVERY_LIMIT)
    assert time.monotonic() - returned < RECOVERY_LIMIT
    for node in (node_a, node_b):
        assert (await scrape(node.url)).value(
            "chatio_redis_reconnects_total") == 1
    assert_ok(await alice.join("lobby"))
    retried = assert_ok(await alice.call("message", during))
    assert retried["duplicate"] is False
    assert await bob.next("message") == retried["message"]
    # Every acked message survived the kill, in one gapless sequence.
    history = assert_ok(await bob.call("history", {"room": "lobby"}))
    assert history["messages"] == [first, retried["message"]]
    assert [m["seq"] for m in history["messages"]] == [1, 2]
