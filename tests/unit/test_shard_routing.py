"""Where publications go: channel names, the slot map read from
``CLUSTER SLOTS``, and ``RedisManager.route`` for each kind of publication
(no Redis is contacted)."""
from __future__ import annotations

from redis.crc import key_slot

from chatio.transport import RedisManager
from chatio.transport.channels import ChannelNames
from chatio.transport.shards import ShardMap

A, B, C = ("10.0.0.1", 7000), ("10.0.0.2", 7001), ("10.0.0.3", 7002)


def slots_reply() -> list:
    return [[0, 5460, [b"10.0.0.1", 7000, b"id-a"], [b"10.0.0.4", 7003, b"r"]],
            [5461, 10922, [b"10.0.0.2", 7001, b"id-b"]],
            [10923, 16383, [b"10.0.0.3", 7002, b"id-c"]]]


def test_a_single_server_owns_every_channel_and_keeps_its_url():
    shards = ShardMap("redis://:secret@10.0.0.9:6380/2")
    assert shards.owner_of("anything") == ("10.0.0.9", 6380)
    assert shards.url_for(("10.0.0.9", 6380)) == "redis://:secret@10.0.0.9:6380/2"


def test_cluster_slots_give_each_channel_its_slots_primary():
    shards = ShardMap("redis+cluster://u:p@10.0.0.1:7000,10.0.0.2:7001")
    assert shards.cluster is True and not shards.loaded
    assert shards._adopt(slots_reply(), A) is True
    assert shards.loaded
    names = ChannelNames("p:socketio")
    for room in ("lobby", "x", "another room"):
        channel = names.room("/chat", room)
        slot = key_slot(room.encode())
        expected = A if slot <= 5460 else B if slot <= 10922 else C
        assert shards.owner_of(channel) == expected
    assert shards.url_for(C) == "redis://u:p@10.0.0.3:7002/0"
    assert shards._adopt(slots_reply(), A) is False  # nothing changed


def test_tls_cluster_urls_stay_tls():
    shards = ShardMap("rediss+cluster://10.0.0.1:7000")
    assert shards.url_for(B) == "rediss://10.0.0.2:7001/0"


def test_publications_are_routed_to_who_needs_them():
    manager = RedisManager("redis://127.0.0.1:1/0", "p:socketio")
    names = manager.channels
    manager.basic_enter_room("local-sid", "/chat", None, eio_sid="e1")

    def emit(room):
        return {"method": "emit", "namespace": "/chat", "room": room,
                "host_id": manager.host_id}
    assert manager.route(emit("lobby")) == names.room("/chat", "lobby")
    assert manager.route(emit(None)) == names.room("/chat", None)
    assert manager.route(emit("local-sid")) is None  # nobody else has it
    assert manager.route(emit(["a", "b"])) == names.everyone
    assert manager.route({"method": "callback", "host_id": "h2"}) == \
        names.node("h2")
    assert manager.route({"method": "disconnect", "sid": "far"}) == \
        names.everyone
    assert manager.route({"method": "emit", "namespace": "/admin",
                          "room": "s", "admin_sync": "s"}) == names.everyone
    # A remote Admin UI socket that asked for a sync is answered at its node.
    manager._remember_remote("admin-sid", "h3")
    assert manager.route({"method": "emit", "namespace": "/admin",
                          "room": "admin-sid"}) == names.node("h3")


def test_room_channels_share_the_rooms_slot():
    names = ChannelNames("p:socketio")
    for room in ("lobby", "a{b", "42"):
        assert key_slot(names.room("/chat", room).encode()) == key_slot(
            f"p:room:{{{room}}}:seq".encode())
