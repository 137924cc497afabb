"""Read positions, edits, deletes and reactions with real clients."""
from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis

from chatio.constants import (FORBIDDEN, INVALID_PAYLOAD, NOT_FOUND,
                              NOT_IN_ROOM, RATE_LIMITED)
from chatio.settings import Rate
from support.redis_contents import held_under
from support import BACKENDS, assert_error, assert_ok

SECRET = "meet me at the old mill at nine"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_read_reaches_the_other_device_and_counts_after_a_rejoin(
        server, connect, backend):
    phone = await connect(server, "alice", name="Alice")
    laptop = await connect(server, "alice", name="Alice")
    bob = await connect(server, "bob", name="Bob")
    for client in (phone, laptop, bob):
        await client.join("lobby")
    sent = [(await bob.send("lobby", f"m{n}"))["message"] for n in range(4)]
    await phone.send("lobby", "mine does not count")
    ack = assert_ok(await phone.call("read", {"room": "lobby",
                                               "seq": sent[1]["seq"]}))
    assert ack == {"ok": True, "room": "lobby", "seq": 2, "unread": 2}
    assert await laptop.next("read") == {"room": "lobby", "seq": 2,
                                         "unread": 2}
    # Going back is a no-op and tells nobody.
    assert assert_ok(await phone.call("read", {"room": "lobby",
                                                "seq": 1}))["seq"] == 2
    await laptop.roundtrip()
    assert laptop.pending("read") == []
    await laptop.close()
    again = await connect(server, "alice", name="Alice")
    joined = await again.join("lobby")
    assert joined["read_seq"] == 2 and joined["unread"] == 2
    assert (await bob.join("lobby"))["unread"] == 1


async def test_reads_reach_members_coalesced(start_server, connect):
    server = await start_server(receipt_interval=0.3)
    alice = await connect(server, "alice", name="Alice")
    bob = await connect(server, "bob", name="Bob")
    await alice.join("lobby")
    await bob.join("lobby")
    for n in range(5):
        await alice.send("lobby", f"m{n}")
    for seq in range(1, 6):
        assert_ok(await bob.call("read", {"room": "lobby", "seq": seq}))
    receipt = await alice.next("receipts")
    assert receipt == {"room": "lobby", "reads": [
        {"user": {"id": "bob", "name": "Bob"}, "seq": 5}]}
    await alice.roundtrip()
    assert alice.pending("receipts") == []
    readers = assert_ok(await alice.call("readers", {"room": "lobby",
                                                     "seq": 3}))
    assert readers["readers"] == [{"user": {"id": "bob", "name": "Bob"},
                                   "seq": 5}]
    assert readers["more"] is False


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_edit_made_offline_arrives_through_the_since_catch_up(
        server, connect, backend):
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await alice.join("lobby")
    await bob.join("lobby")
    first = (await alice.send("lobby", "helo"))["message"]
    await alice.send("lobby", "second")
    assert (await bob.collect("message", 2))[0] == first
    await bob.close()
    edit = assert_ok(await alice.call("edit", {"room": "lobby", "seq": 1,
                                               "text": "hello"}))["message"]
    gone = assert_ok(await alice.call("delete", {"room": "lobby",
                                                 "seq": 2}))["message"]
    assert edit["kind"] == "edit" and edit["target"] == 1
    bob = await connect(server, "bob")
    caught_up = (await bob.join("lobby", since=2))["history"]
    assert caught_up == [edit, gone]
    current = (await bob.history("lobby"))["messages"]
    assert current[0]["text"] == "hello"
    assert current[0]["edited_at"] == edit["ts"]
    assert current[1]["deleted"] is True and "text" not in current[1]


async def test_live_changes_and_reactions_reach_the_room(server, connect):
    alice = await connect(server, "alice", name="Alice")
    bob = await connect(server, "bob", name="Bob")
    await alice.join("lobby")
    await bob.join("lobby")
    await alice.send("lobby", "hi")
    await bob.next("message")
    edit = assert_ok(await alice.call("edit", {"room": "lobby", "seq": 1,
                                               "text": "hi all",
                                               "client_id": "e1"}))
    assert await bob.next("message") == edit["message"]
    again = assert_ok(await alice.call("edit", {"room": "lobby", "seq": 1,
                                                "text": "hi all",
                                                "client_id": "e1"}))
    assert again["duplicate"] is True and again["message"] == edit["message"]
    ack = assert_ok(await bob.call("react", {"room": "lobby", "seq": 1,
                                             "emoji": "👍", "on": True}))
    assert ack["count"] == 1 and ack["changed"] is True
    assert await alice.next("reaction") == {
        "room": "lobby", "seq": 1, "emoji": "👍", "count": 1, "on": True,
        "user": {"id": "bob", "name": "Bob"}}
    page = (await alice.history("lobby"))["messages"]
    assert page[0]["reactions"] == [{"emoji": "👍", "count": 1, "me": False}]
    page = (await bob.history("lobby"))["messages"]
    assert page[0]["reactions"] == [{"emoji": "👍", "count": 1, "me": True}]
    await alice.roundtrip()
    assert alice.pending("message") == []


async def test_a_delete_removes_the_text_from_sqlite(start_server, connect,
                                                     tmp_path):
    server = await start_server(history_backend="sqlite")
    alice = await connect(server, "alice")
    await alice.join("lobby")
    await alice.send("lobby", SECRET, client_id="c1")
    await alice.send("lobby", "filler")
    files = list((tmp_path / "data").glob("chatio.sqlite3*"))
    assert any(SECRET.encode() in f.read_bytes() for f in files)
    assert_ok(await alice.call("delete", {"room": "lobby", "seq": 1}))
    for f in (tmp_path / "data").glob("chatio.sqlite3*"):
        assert SECRET.encode() not in f.read_bytes(), f.name
    again = await alice.send("lobby", SECRET, client_id="c1")
    assert again["duplicate"] is True and again["message"]["deleted"] is True


async def test_a_delete_removes_the_text_from_redis(start_server, connect,
                                                    redis_server,
                                                    redis_prefix):
    server = await start_server(redis_url=redis_server.url,
                                redis_prefix=redis_prefix)
    alice = await connect(server, "alice")
    await alice.join("lobby")
    await alice.send("lobby", SECRET, client_id="c1")
    assert_ok(await alice.call("edit", {"room": "lobby", "seq": 1,
                                        "text": SECRET + "!",
                                        "client_id": "c2"}))
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        assert SECRET.encode() in await held_under(client, redis_prefix)
        assert_ok(await alice.call("delete", {"room": "lobby", "seq": 1}))
        assert SECRET.encode() not in await held_under(client, redis_prefix)
    finally:
        await client.aclose()


async def test_concurrent_reactions_on_two_nodes_give_the_right_count(
        start_server, connect, redis_server, redis_prefix):
    nodes = [await start_server(redis_url=redis_server.url,
                                redis_prefix=redis_prefix, node_id=f"n{i}")
             for i in (1, 2)]
    author = await connect(nodes[0], "author")
    await author.join("lobby")
    await author.send("lobby", "react to me")
    users = [await connect(nodes[n % 2], f"user{n}") for n in range(10)]
    for client in users:
        await client.join("lobby")
    acks = await asyncio.gather(*(
        client.call("react", {"room": "lobby", "seq": 1, "emoji": "🎉",
                              "on": True}) for client in users))
    assert sorted(assert_ok(a)["count"] for a in acks) == list(range(1, 11))
    deltas = await author.collect("reaction", 10)
    assert max(d["count"] for d in deltas) == 10
    off = await asyncio.gather(*(
        client.call("react", {"room": "lobby", "seq": 1, "emoji": "🎉",
                              "on": False}) for client in users[:4]))
    assert sorted(assert_ok(a)["count"] for a in off) == [6, 7, 8, 9]
    for node in nodes:
        viewer = await connect(node, "user9")
        await viewer.join("lobby")
        page = (await viewer.history("lobby"))["messages"]
        assert page[0]["reactions"] == [{"emoji": "🎉", "count": 6,
                                         "me": True}]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_someone_elses_message_cannot_be_changed_or_spoofed(
        server, connect, backend):
    alice = await connect(server, "alice", name="Alice")
    mallory = await connect(server, "mallory", name="Mallory")
    await alice.join("lobby")
    await mallory.join("lobby")
    await alice.send("lobby", "original")
    assert_error(await mallory.call("edit", {"room": "lobby", "seq": 1,
                                             "text": "pwned"}), FORBIDDEN)
    assert_error(await mallory.call("delete", {"room": "lobby", "seq": 1}),
                 FORBIDDEN)
    for spoof in ({"user": {"id": "alice"}}, {"user_id": "alice"},
                  {"kind": "edit"}, {"target": 1}):
        assert_error(await mallory.call(
            "edit", {"room": "lobby", "seq": 1, "text": "x", **spoof}),
            INVALID_PAYLOAD)
        assert_error(await mallory.call(
            "delete", {"room": "lobby", "seq": 1, **spoof}), INVALID_PAYLOAD)
    own = await mallory.send("lobby", "mine")
    edit = assert_ok(await mallory.call("edit", {
        "room": "lobby", "seq": own["message"]["seq"], "text": "still mine"}))
    assert edit["message"]["user"] == {"id": "mallory", "name": "Mallory"}
    page = (await alice.history("lobby"))["messages"]
    assert page[0]["text"] == "original" and "edited_at" not in page[0]
    # An edit entry is no message: it cannot be edited in turn.
    assert_error(await mallory.call("edit", {
        "room": "lobby", "seq": edit["message"]["seq"], "text": "y"}),
        NOT_FOUND)
    assert_error(await mallory.call("react", {
        "room": "lobby", "seq": 99, "emoji": "👍", "on": True}), NOT_FOUND)


async def test_changes_and_reads_need_the_room(server, connect):
    alice = await connect(server, "alice")
    await alice.join("lobby")
    await alice.send("lobby", "hi")
    await alice.leave("lobby")
    for event, payload in (
            ("edit", {"room": "lobby", "seq": 1, "text": "x"}),
            ("delete", {"room": "lobby", "seq": 1}),
            ("react", {"room": "lobby", "seq": 1, "emoji": "👍", "on": True}),
            ("read", {"room": "lobby", "seq": 1}),
            ("readers", {"room": "lobby", "seq": 1})):
        assert_error(await alice.call(event, payload), NOT_IN_ROOM)


async def test_reactions_and_changes_count_against_the_rate_limit(
        start_server, connect):
    server = await start_server(rate_messages=Rate(0.1, 3))
    alice = await connect(server, "alice")
    await alice.join("lobby")
    await alice.send("lobby", "one")
    assert_ok(await alice.call("react", {"room": "lobby", "seq": 1,
                                         "emoji": "👍", "on": True}))
    assert_ok(await alice.call("edit", {"room": "lobby", "seq": 1,
                                        "text": "uno"}))
    error = assert_error(await alice.call("react", {
        "room": "lobby", "seq": 1, "emoji": "🎉", "on": True}), RATE_LIMITED)
    assert error["details"]["retry_after_ms"] > 0


BAD = {
    "edit": [{"room": "lobby", "seq": 1}, {"room": "lobby", "text": "x"},
             {"room": "lobby", "seq": 0, "text": "x"},
             {"room": "lobby", "seq": "1", "text": "x"},
             {"room": "lobby", "seq": 1, "text": ""},
             {"room": "lobby", "seq": 1, "text": "a\x00b"},
             {"room": "lobby", "seq": 1, "text": "x" * 2001},
             {"room": "lobby", "seq": 1, "text": "x", "client_id": ""},
             {"room": "lobby", "seq": True, "text": "x"}],
    "delete": [{"room": "lobby"}, {"room": "lobby", "seq": -1},
               {"room": "lobby", "seq": 1.0}, {"room": "lobby", "seq": 2**53},
               {"room": "lobby", "seq": 1, "text": "x"}],
    "react": [{"room": "lobby", "seq": 1, "emoji": "👍"},
              {"room": "lobby", "seq": 1, "emoji": "👍", "on": 1},
              {"room": "lobby", "seq": 1, "emoji": "a", "on": True},
              {"room": "lobby", "seq": 1, "emoji": "👍👍", "on": True},
              {"room": "lobby", "seq": 1, "emoji": "", "on": True},
              {"room": "lobby", "seq": 1, "emoji": "👍 ", "on": True},
              {"room": "lobby", "seq": 1, "emoji": "\u200d", "on": True},
              {"room": "lobby", "seq": 1, "emoji": "\ud83d", "on": True},
              {"room": "lobby", "seq": 1, "emoji": 5, "on": True},
              {"room": "lobby", "seq": 1, "emoji": "👍" * 5000, "on": True}],
    "read": [{"room": "lobby"}, {"room": "lobby", "seq": -1},
             {"room": "lobby", "seq": "5"}, {"room": "lobby", "seq": None},
             {"room": "lobby", "seq": 1, "user": "bob"}],
    "readers": [{"room": "lobby"}, {"room": "lobby", "seq": 0},
                {"room": "lobby", "seq": [1]}],
}
CASES = [pytest.param(event, payload, id=f"{event}-{n}")
         for event, payloads in BAD.items()
         for n, payload in enumerate(payloads + [None, [], "x", 7,
                                                 {"room": "a b", "seq": 1}])]


@pytest.mark.parametrize("event, payload", CASES)
async def test_hostile_payloads_of_new_events_are_invalid_payload(
        server, connect, event, payload):
    client = await connect(server, "alice")
    await client.join("lobby")
    await client.send("lobby", "target")
    error = assert_error(await client.call(event, payload), INVALID_PAYLOAD)
    assert "Traceback" not in json.dumps(error)
    assert client.connected
    assert (await client.history("lobby"))["messages"][0]["text"] == "target"


@pytest.mark.parametrize("emoji", ["👍", "❤️", "👍🏽", "🇫🇷", "1️⃣",
                                   "👩‍👩‍👧", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "©️"])
async def test_single_emoji_graphemes_are_accepted(server, connect, emoji):
    client = await connect(server, "alice")
    await client.join("lobby")
    await client.send("lobby", "target")
    ack = assert_ok(await client.call("react", {"room": "lobby", "seq": 1,
                                                "emoji": emoji, "on": True}))
    assert ack["emoji"] == emoji and ack["count"] == 1
