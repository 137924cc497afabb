"""Official JavaScript clients on different nodes of a real three-node
cluster (``chatio serve`` processes sharing one redis-server, or a Redis
Cluster of three masters)."""
from __future__ import annotations

import asyncio

import pytest

from chatio.constants import (CHAT_NAMESPACE, PRESENCE_NAMESPACE,
                              TYPING_NAMESPACE)
from support.multi import presence_event, typing_event

CHAT, TYPING, PRESENCE = CHAT_NAMESPACE, TYPING_NAMESPACE, PRESENCE_NAMESPACE
PER_CLIENT = 20
GRACE = 1.0


@pytest.fixture(params=["redis", "redis-cluster"])
async def cluster(request, start_cluster):
    """Three nodes on one redis-server, then on a Redis Cluster."""
    return await start_cluster(CHATIO_PRESENCE_GRACE=str(GRACE),
                               redis_cluster=request.param == "redis-cluster")


async def test_seq_is_gapless_across_nodes(cluster, puppet):
    users = ["alice", "bob", "carol"]
    for user, url in zip(users, cluster.urls):
        await puppet.connect(user, url, cluster.token(user), [CHAT])
        ack = await puppet.call(user, CHAT, "join", {"room": "lobby"})
        assert ack["ok"], ack

    async def send_all(user: str) -> list[int]:
        seqs = []
        for n in range(PER_CLIENT):
            ack = await puppet.call(user, CHAT, "message", {
                "room": "lobby", "text": f"{user} {n}",
                "client_id": f"{user}-{n}"})
            assert ack["ok"], ack
            seqs.append(ack["message"]["seq"])
        return seqs

    sent = await asyncio.gather(*(send_all(user) for user in users))
    total = PER_CLIENT * len(users)
    assert sorted(seq for seqs in sent for seq in seqs) == \
        list(range(1, total + 1))
    for user, own in zip(users, sent):
        assert own == sorted(own)  # one sender's messages keep their order
        received = [await puppet.next(user, CHAT, "message")
                    for _ in range(total - PER_CLIENT)]
        assert {m["seq"] for m in received} == \
            set(range(1, total + 1)) - set(own)
    history = await puppet.call("alice", CHAT, "history",
                                {"room": "lobby", "limit": 100})
    assert [m["seq"] for m in history["messages"]] == \
        list(range(1, total + 1))


async def test_cluster_wide_client_id_race_stores_one_message(
        cluster, puppet):
    # One user, three devices on three nodes, retrying the same send at once.
    for index, url in enumerate(cluster.urls):
        device = f"device-{index}"
        await puppet.connect(device, url, cluster.token("alice"), [CHAT])
        assert (await puppet.call(device, CHAT, "join", {"room": "race"}))["ok"]
    devices = [f"device-{i}" for i in range(len(cluster.urls))]
    for attempt in range(25):
        payload = {"room": "race", "text": f"attempt {attempt}",
                   "client_id": f"retry-{attempt}"}
        acks = await asyncio.gather(*(
            puppet.call(device, CHAT, "message", payload)
            for device in devices))
        assert all(ack["ok"] for ack in acks), acks
        stored = {ack["message"]["seq"] for ack in acks}
        assert len(stored) == 1, acks
        assert sorted(ack["duplicate"] for ack in acks) == [False, True, True]
    history = await puppet.call(devices[0], CHAT, "history",
                                {"room": "race", "limit": 100})
    assert [m["text"] for m in history["messages"]] == \
        [f"attempt {n}" for n in range(25)]


async def test_clients_on_different_nodes_chat_type_and_see_presence(
        cluster, puppet):
    one, two, _ = cluster.urls
    namespaces = [CHAT, TYPING, PRESENCE]
    await puppet.connect("alice", one, cluster.token("alice", name="Alice"),
                         namespaces)
    await puppet.connect("bob", two, cluster.token("bob", name="Bob"),
                         namespaces)
    for user in ("alice", "bob"):
        for namespace in (TYPING, PRESENCE):
            ack = await puppet.call(user, namespace, "subscribe",
                                    {"room": "lobby"})
            assert ack["ok"], ack
    assert (await puppet.call("alice", CHAT, "join", {"room": "lobby"}))["ok"]
    alice_joined = presence_event("lobby", "alice", "Alice", "joined")
    assert await puppet.next("bob", PRESENCE, "presence") == alice_joined
    assert await puppet.next("alice", PRESENCE, "presence") == alice_joined
    assert (await puppet.call("bob", CHAT, "join", {"room": "lobby"}))["ok"]
    bob_joined = presence_event("lobby", "bob", "Bob", "joined")
    assert await puppet.next("alice", PRESENCE, "presence") == bob_joined
    members = await puppet.call("alice", PRESENCE, "subscribe",
                                {"room": "lobby"})
    assert sorted(m["id"] for m in members["members"]) == ["alice", "bob"]

    assert await puppet.call("bob", TYPING, "typing",
                             {"room": "lobby", "typing": True}) == {"ok": True}
    assert await puppet.next("alice", TYPING, "typing") == \
        typing_event("lobby", "bob", "Bob", True)
    sent = await puppet.call("bob", CHAT, "message",
                             {"room": "lobby", "text": "hi alice"})
    assert await puppet.next("alice", CHAT, "message") == sent["message"]
    # Sending clears typing, cluster-wide.
    assert await puppet.next("alice", TYPING, "typing") == \
        typing_event("lobby", "bob", "Bob", False)

    await puppet.close("bob")
    assert await puppet.next("alice", PRESENCE, "presence",
                             timeout=GRACE + 5) == \
        presence_event("lobby", "bob", "Bob", "left")
