"""A real three-node cluster when a node or Redis fails, seen by official
JavaScript clients: presence is cleaned up exactly once after kill -9, and
no acked message is lost or stored twice across a Redis restart."""
from __future__ import annotations

import asyncio

import pytest

from chatio.constants import CHAT_NAMESPACE, PRESENCE_NAMESPACE
from support.multi import presence_event
from support.readiness import wait_ready

CHAT, PRESENCE = CHAT_NAMESPACE, PRESENCE_NAMESPACE
PRESENCE_TTL = 2.0
GRACE = 1.0
# How long after a kill -9 the survivors must have announced the departure:
# the heartbeat expires after the TTL, then the grace period runs out.
DEPARTURE_DEADLINE = PRESENCE_TTL + GRACE + 5.0
RECOVERY_LIMIT = 10.0


@pytest.fixture
async def cluster(start_cluster):
    return await start_cluster(CHATIO_PRESENCE_TTL=str(PRESENCE_TTL),
                               CHATIO_PRESENCE_GRACE=str(GRACE))


@pytest.fixture(params=["redis", "redis-cluster"])
async def any_cluster(request, start_cluster):
    """``cluster``, on one redis-server and then on a Redis Cluster."""
    return await start_cluster(CHATIO_PRESENCE_TTL=str(PRESENCE_TTL),
                               CHATIO_PRESENCE_GRACE=str(GRACE),
                               redis_cluster=request.param == "redis-cluster")


async def joined(puppet, client, url, token, room="lobby"):
    await puppet.connect(client, url, token, [CHAT])
    ack = await puppet.call(client, CHAT, "join", {"room": room})
    assert ack["ok"], ack


async def watch(puppet, client, url, token, room="lobby"):
    await puppet.connect(client, url, token, [PRESENCE])
    ack = await puppet.call(client, PRESENCE, "subscribe", {"room": room})
    assert ack["ok"], ack
    return {m["id"] for m in ack["members"]}


async def test_two_devices_on_two_nodes_give_one_joined_and_one_left(
        any_cluster, puppet):
    one, two, three = any_cluster.urls
    await watch(puppet, "watcher", three, any_cluster.token("watcher"))
    await joined(puppet, "phone", one, any_cluster.token("alice", name="Alice"))
    await joined(puppet, "laptop", two, any_cluster.token("alice", name="Alice"))
    assert await puppet.next("watcher", PRESENCE, "presence") == \
        presence_event("lobby", "alice", "Alice", "joined")

    assert (await puppet.call("phone", CHAT, "leave", {"room": "lobby"}))["ok"]
    assert (await puppet.call("laptop", CHAT, "leave", {"room": "lobby"}))["ok"]
    assert await puppet.next("watcher", PRESENCE, "presence") == \
        presence_event("lobby", "alice", "Alice", "left")
    # A round trip on the watcher's socket after both leaves: anything else
    # sent for them would have arrived before its ack.
    await puppet.call("watcher", PRESENCE, "unsubscribe", {"room": "other"})
    assert puppet.pending("watcher", PRESENCE, "presence") == []


async def test_kill_9_of_a_node_ends_its_users_presence_exactly_once(
        any_cluster, puppet):
    doomed, two, three = any_cluster.nodes
    members = await watch(puppet, "watcher-2", two.url, any_cluster.token("w2"))
    assert members == set()
    await watch(puppet, "watcher-3", three.url, any_cluster.token("w3"))
    await joined(puppet, "alice", doomed.url, any_cluster.token("alice", name="Alice"))
    await joined(puppet, "bob", two.url, any_cluster.token("bob", name="Bob"))
    # carol has devices on the doomed node and on a survivor.
    await joined(puppet, "carol-1", doomed.url, any_cluster.token("carol", name="Carol"))
    await joined(puppet, "carol-2", three.url, any_cluster.token("carol", name="Carol"))
    for watcher in ("watcher-2", "watcher-3"):
        seen = [await puppet.next(watcher, PRESENCE, "presence")
                for _ in range(3)]
        assert sorted(e["user"]["id"] for e in seen) == ["alice", "bob", "carol"]
        assert {e["status"] for e in seen} == {"joined"}

    doomed.kill()
    for watcher in ("watcher-2", "watcher-3"):
        event = await puppet.next(watcher, PRESENCE, "presence",
                                  timeout=DEPARTURE_DEADLINE)
        assert event == presence_event("lobby", "alice", "Alice", "left")
    # Several sweeps later nobody announced alice again, nor carol (she has
    # a device elsewhere) or bob.
    await asyncio.sleep(PRESENCE_TTL + GRACE)
    for watcher in ("watcher-2", "watcher-3"):
        await puppet.call(watcher, PRESENCE, "unsubscribe", {"room": "other"})
        assert puppet.pending(watcher, PRESENCE, "presence") == []
    ack = await puppet.call("watcher-3", PRESENCE, "subscribe", {"room": "lobby"})
    assert sorted(m["id"] for m in ack["members"]) == ["bob", "carol"]


async def test_redis_restart_loses_and_duplicates_no_acked_message(
        cluster, puppet):
    one, two, _ = cluster.urls
    await joined(puppet, "sender", one, cluster.token("alice"))
    await joined(puppet, "reader", two, cluster.token("bob"))
    total = 40
    acked: list[dict] = []
    quarter_acked, refused, recovered = (asyncio.Event(), asyncio.Event(),
                                         asyncio.Event())

    async def send_all() -> None:
        for n in range(total):
            payload = {"room": "lobby", "text": f"m{n}", "client_id": f"c{n}"}
            while True:  # what a client does: retry retryable errors
                ack = await puppet.call("sender", CHAT, "message", payload)
                if ack["ok"]:
                    acked.append(ack["message"])
                    if len(acked) == total // 4:
                        quarter_acked.set()
                    if refused.is_set():
                        recovered.set()
                    break
                assert ack["error"]["code"] == "UNAVAILABLE", ack
                assert ack["error"]["retryable"] is True
                refused.set()
                await asyncio.sleep(0.1)  # client back-off between retries

    sender = asyncio.create_task(send_all())
    await asyncio.wait_for(quarter_acked.wait(), 10)
    cluster.redis.kill()
    await asyncio.wait_for(refused.wait(), 10)
    # The history part of a join is refused too; the socket stays usable.
    ack = await puppet.call("reader", CHAT, "join", {"room": "elsewhere"})
    assert ack["error"]["code"] == "UNAVAILABLE", ack
    cluster.redis.start()
    # Full service within 10 s of Redis returning, without a restart:
    # sends are stored again, every node is ready, and delivery crosses
    # nodes again.
    await asyncio.wait_for(recovered.wait(), RECOVERY_LIMIT)
    await asyncio.gather(*(wait_ready(url, True, RECOVERY_LIMIT)
                           for url in cluster.urls))
    await asyncio.wait_for(sender, 30)
    ack = await puppet.call("sender", CHAT, "message",
                            {"room": "lobby", "text": "after"})
    assert ack["ok"], ack
    while (live := await puppet.next("reader", CHAT, "message")) != \
            ack["message"]:
        assert live in acked  # an earlier message, delivered late

    assert [m["text"] for m in acked] == [f"m{n}" for n in range(total)]
    history = await puppet.call("reader", CHAT, "history",
                                {"room": "lobby", "limit": 100})
    assert history["ok"], history
    assert history["messages"] == acked + [ack["message"]]
    assert [m["seq"] for m in acked] == list(range(1, total + 1))
