"""Connection state recovery across the nodes of a real cluster (on one
Redis and on a Redis Cluster): a stock socket.io-client whose address
changed reconnects through nginx to another node, and comes back as itself
with every message it missed, once."""
from __future__ import annotations

import asyncio
import json

import pytest

from chatio.constants import CHAT_NAMESPACE
from support.cluster import Cluster
from support.nginx import NginxProcess, require_nginx

CHAT = CHAT_NAMESPACE
RECONNECT_TIMEOUT = 15.0
# Loopback addresses the client may move to, tried in turn until nginx's
# hash sends it to another node.
ADDRESSES = [f"127.0.0.{n}" for n in range(20, 40)]


@pytest.fixture(params=["redis", "redis-cluster"])
async def cluster(request, start_cluster):
    """Three nodes on one Redis, then on a Redis Cluster of three masters."""
    require_nginx()
    return await start_cluster(CHATIO_TRUSTED_PROXIES="127.0.0.1",
                               redis_cluster=request.param == "redis-cluster")


def sessions_of(cluster: Cluster, user: str) -> list[int]:
    """Per node, how many /chat sockets of ``user`` it accepted or
    recovered."""
    counts = []
    for node in cluster.nodes:
        count = 0
        for line in node.all_output().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("msg") in ("connected", "recovered") and \
                    record.get("user") == user and \
                    record.get("namespace") == CHAT:
                count += 1
        counts.append(count)
    return counts


async def next_status(puppet, client: str, wanted: str):
    statuses = puppet.statuses[(client, CHAT)]
    while True:
        status = await asyncio.wait_for(statuses.get(), RECONNECT_TIMEOUT)
        if status["status"] == wanted:
            return status


async def test_recovers_on_another_node_after_the_address_changed(
        cluster, puppet, tmp_path):
    nodes = [f"{n.host}:{n.port}" for n in cluster.nodes]
    with NginxProcess(tmp_path / "nginx", nodes) as proxy:
        await puppet.connect("alice", proxy.url, cluster.token("alice"),
                             [CHAT], local_address="127.0.0.10",
                             reconnection=True)
        first = await next_status(puppet, "alice", "connect")
        assert (await puppet.call("alice", CHAT, "join",
                                  {"room": "lobby"}))["ok"]
        await puppet.connect("bob", cluster.nodes[0].url,
                             cluster.token("bob"), [CHAT])
        assert (await puppet.call("bob", CHAT, "join",
                                  {"room": "lobby"}))["ok"]
        sent = 0

        async def bob_sends(count: int) -> None:
            nonlocal sent
            for _ in range(count):
                ack = await puppet.call("bob", CHAT, "message",
                                        {"room": "lobby", "text": f"m{sent}"})
                assert ack["ok"], ack
                sent += 1

        await bob_sends(2)
        before = sessions_of(cluster, "alice")
        moved = False
        for address in ADDRESSES:
            await puppet.rebind("alice", address)
            await puppet.drop("alice")
            await next_status(puppet, "alice", "disconnect")
            await bob_sends(2)  # while alice is away, or reconnecting
            back = await next_status(puppet, "alice", "connect")
            assert back["recovered"] is True, back
            assert back["sid"] == first["sid"]
            after = sessions_of(cluster, "alice")
            grew = [i for i, (a, b) in enumerate(zip(before, after)) if b > a]
            old = [i for i, n in enumerate(before) if n]
            if grew and grew[-1] not in old:
                moved = True
                break
            before = after
        assert moved, "nginx kept every address on the same node"
        await bob_sends(1)
        messages = [await puppet.next("alice", CHAT, "message")
                    for _ in range(sent)]
        assert [m["seq"] for m in messages] == list(range(1, sent + 1))
        assert puppet.pending("alice", CHAT, "message") == []


async def test_another_node_takes_over_a_connection_still_open_elsewhere(
        cluster, puppet):
    # The client's network changed: its old connection to node 0 looks
    # alive there, and it reconnects to node 1 with its pid.
    old_node, new_node = cluster.nodes[0], cluster.nodes[1]
    await puppet.connect("alice", old_node.url, cluster.token("alice"), [CHAT])
    await puppet.connect("bob", new_node.url, cluster.token("bob"), [CHAT])
    for user in ("alice", "bob"):
        assert (await puppet.call(user, CHAT, "join", {"room": "moving"}))["ok"]
    for text in ("one", "two"):
        ack = await puppet.call("bob", CHAT, "message",
                                {"room": "moving", "text": text})
        assert ack["ok"], ack
    first = [await puppet.next("alice", CHAT, "message") for _ in range(2)]
    assert [m["seq"] for m in first] == [1, 2]
    held = await puppet.session("alice", CHAT)
    # Sent after the offset alice holds: two is the last she saw.
    ack = await puppet.call("bob", CHAT, "message",
                            {"room": "moving", "text": "three"})
    assert ack["ok"], ack
    assert (await puppet.next("alice", CHAT, "message"))["seq"] == 3

    await puppet.connect("alice-again", new_node.url, cluster.token("alice"),
                         [CHAT], sessions={CHAT: {
                             "pid": held["pid"], "offset": held["offset"]}})
    back = await next_status(puppet, "alice-again", "connect")
    assert back["recovered"] is True, back
    assert back["sid"] == held["sid"]
    assert (await next_status(puppet, "alice", "disconnect"))
    ack = await puppet.call("bob", CHAT, "message",
                            {"room": "moving", "text": "four"})
    assert ack["ok"], ack
    # Three went to the old connection after the offset it presented, so
    # it is replayed; then four, live.
    again = [await puppet.next("alice-again", CHAT, "message")
             for _ in range(2)]
    assert [m["seq"] for m in again] == [3, 4]
    assert puppet.pending("alice-again", CHAT, "message") == []
