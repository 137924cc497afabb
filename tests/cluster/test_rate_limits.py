"""Message rate limits in a cluster: one bucket per user for every node,
and resends answered ``duplicate: true`` never take from it."""
from __future__ import annotations

import asyncio

from chatio.constants import RATE_LIMITED
from chatio.settings import Rate
from support import assert_error

LIMIT = Rate(0.1, 3)


async def test_resends_on_any_node_do_not_use_up_the_limit(
        redis_server, start_node, connect):
    node_a = await start_node(redis_server, rate_messages=LIMIT)
    node_b = await start_node(redis_server, rate_messages=LIMIT)
    on_a = await connect(node_a, "alice")
    on_b = await connect(node_b, "alice")
    for client in (on_a, on_b):
        await client.join("lobby")
    first = await on_a.send("lobby", "hello", client_id="c1")
    for n in range(25):
        again = await (on_a if n % 2 else on_b).send("lobby", "hello",
                                                     client_id="c1")
        assert again["duplicate"] is True
        assert again["message"] == first["message"]
    # Two tokens of the shared three are left, and only two.
    await on_b.send("lobby", "m2", client_id="c2")
    await on_a.send("lobby", "m3", client_id="c3")
    assert_error(await on_b.call("message", {"room": "lobby", "text": "m4"}),
                 RATE_LIMITED)


async def test_a_storm_of_one_client_id_across_nodes_takes_one_token(
        redis_server, start_node, connect):
    nodes = [await start_node(redis_server, rate_messages=LIMIT)
             for _ in range(2)]
    sockets = [await connect(node, "alice") for node in nodes for _ in range(2)]
    for client in sockets:
        await client.join("lobby")
    acks = await asyncio.gather(*(
        client.call("message", {"room": "lobby", "text": "x",
                                "client_id": "storm"})
        for client in sockets for _ in range(3)))
    assert sum(a.get("ok") is True and a["duplicate"] is False
               for a in acks) == 1
    await sockets[0].send("lobby", "m2")
    await sockets[3].send("lobby", "m3")
    assert_error(await sockets[1].call("message", {"room": "lobby",
                                                   "text": "m4"}),
                 RATE_LIMITED)
