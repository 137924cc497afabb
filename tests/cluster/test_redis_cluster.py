"""Nodes whose every store is on a real Redis Cluster (three masters
started by the test): chat across nodes, and what a killed master does to
the rooms in its slots, with and without a replica to promote."""
from __future__ import annotations

from support import assert_error, assert_ok


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
