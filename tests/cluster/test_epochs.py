"""Room epochs on Redis-backed nodes: deleting a room's keys starts a new
epoch at seq 1, and a client rejoining with ``since`` sees ``gap``."""
from __future__ import annotations

import redis.asyncio as aioredis

from support import assert_ok


async def _delete_room(redis_server, prefix: str, room: str) -> None:
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        keys = [key async for key in client.scan_iter(
            f"{prefix}:room:{{{room}}}:*")]
        assert keys, "the room has no keys to delete"
        assert await client.delete(*keys) == len(keys)
    finally:
        await client.aclose()


async def test_deleted_room_keys_start_a_new_epoch_seen_as_a_gap(
        redis_server, redis_prefix, start_node, connect):
    node_a = await start_node(redis_server)
    node_b = await start_node(redis_server)
    alice = await connect(node_a, "alice")
    bob = await connect(node_b, "bob")
    joined = await alice.join("lobby")
    epoch = joined["epoch"]
    await bob.join("lobby")
    old = [(await alice.send("lobby", f"old {n}"))["message"]
           for n in range(3)]
    assert [m["epoch"] for m in old] == [epoch] * 3
    assert await bob.collect("message", 3) == old
    kept = (await alice.join("other"))["epoch"]

    await _delete_room(redis_server, redis_prefix, "lobby")

    fresh = (await bob.send("lobby", "after the reset"))["message"]
    assert fresh["seq"] == 1 and fresh["epoch"] != epoch
    assert len(fresh["epoch"]) == 16
    assert await alice.next("message") == fresh
    # A client that kept its position: the old epoch, or only a seq.
    for position in ({"since": 3, "epoch": epoch}, {"since": 3}):
        ack = await alice.join("lobby", **position)
        assert ack["gap"] is True, position
        assert ack["history"] == [fresh]
        assert ack["last_seq"] == 1 and ack["epoch"] == fresh["epoch"]
    # The new epoch's own position reads on without a gap.
    ack = await alice.join("lobby", since=1, epoch=fresh["epoch"])
    assert ack["history"] == [] and "gap" not in ack
    page = await alice.history("lobby", after=0, epoch=epoch)
    assert page["gap"] is True and page["messages"] == [fresh]
    # Other rooms keep their epoch.
    assert (await bob.join("other"))["epoch"] == kept


async def test_a_reset_room_that_nobody_wrote_to_is_still_a_gap(
        redis_server, redis_prefix, start_node, connect):
    node = await start_node(redis_server)
    alice = await connect(node, "alice")
    epoch = (await alice.join("lobby"))["epoch"]
    for n in range(4):
        await alice.send("lobby", f"m{n}")
    await _delete_room(redis_server, redis_prefix, "lobby")
    ack = assert_ok(await alice.call("join", {"room": "lobby", "since": 4,
                                              "epoch": epoch}))
    assert ack["gap"] is True and ack["history"] == []
    assert ack["last_seq"] == 0 and ack["epoch"] != epoch
    # That read created the new epoch: the next message is its seq 1.
    message = (await alice.send("lobby", "first again"))["message"]
    assert message["seq"] == 1 and message["epoch"] == ack["epoch"]
