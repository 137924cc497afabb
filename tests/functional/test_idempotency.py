"""``client_id`` makes sending idempotent per user and room."""
from __future__ import annotations

import asyncio

import pytest

from chatio.constants import NOT_IN_ROOM, RATE_LIMITED
from chatio.settings import Rate
from support import BACKENDS, assert_error, assert_ok

pytestmark = pytest.mark.parametrize("backend", BACKENDS)


async def test_resend_returns_the_original_message_as_duplicate(server,
                                                               connect):
    alice = await connect(server, "alice")
    await alice.join("lobby")
    first = await alice.send("lobby", "hello", client_id="abc-1")
    assert first["duplicate"] is False
    again = await alice.send("lobby", "hello", client_id="abc-1")
    assert again["duplicate"] is True
    assert again["message"] == first["message"]


async def test_resend_with_different_text_still_returns_the_original(server,
                                                                    connect):
    alice = await connect(server, "alice")
    await alice.join("lobby")
    first = await alice.send("lobby", "original", client_id="abc-1")
    again = await alice.send("lobby", "edited text", client_id="abc-1")
    assert again["duplicate"] is True
    assert again["message"] == first["message"]
    assert again["message"]["text"] == "original"
    page = await alice.history("lobby")
    assert page["messages"] == [first["message"]]


async def test_duplicate_client_id_is_not_rebroadcast_or_stored(server,
                                                                connect):
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await alice.join("lobby")
    await bob.join("lobby")
    first = await alice.send("lobby", "once", client_id="k1")
    assert await bob.next("message") == first["message"]
    for _ in range(3):
        assert (await alice.send("lobby", "once",
                                 client_id="k1"))["duplicate"] is True
    after = await alice.send("lobby", "next", client_id="k2")
    # The next broadcast bob sees is the new message, not a repeat.
    assert await bob.next("message") == after["message"]
    assert bob.pending("message") == []
    assert after["message"]["seq"] == first["message"]["seq"] + 1
    page = await bob.history("lobby")
    assert page["messages"] == [first["message"], after["message"]]


async def test_concurrent_duplicates_store_exactly_one_message(server,
                                                               connect):
    phone = await connect(server, "alice")
    laptop = await connect(server, "alice")
    bob = await connect(server, "bob")
    for client in (phone, laptop, bob):
        await client.join("lobby")

    async def send(client, n):
        return assert_ok(await client.call(
            "message", {"room": "lobby", "text": f"try {n}",
                        "client_id": "same-id"}))

    acks = await asyncio.gather(*(send(phone if n % 2 else laptop, n)
                                  for n in range(10)))
    originals = [a for a in acks if a["duplicate"] is False]
    assert len(originals) == 1
    assert sum(a["duplicate"] is True for a in acks) == 9
    message = originals[0]["message"]
    assert all(a["message"] == message for a in acks)
    assert message["seq"] == 1

    page = await bob.history("lobby")
    assert page["messages"] == [message]
    assert await bob.next("message") == message
    marker = await bob.send("lobby", "marker")
    await bob.roundtrip()
    assert bob.pending("message") == []
    assert marker["message"]["seq"] == 2


async def test_concurrent_duplicates_from_many_sockets(server, connect):
    sockets = [await connect(server, "alice") for _ in range(4)]
    for client in sockets:
        await client.join("lobby")
    futures = []
    for round_ in range(5):
        for client in sockets:
            futures.append(await client.request(
                "message", {"room": "lobby", "text": f"r{round_}",
                            "client_id": "storm"}))
    acks = [assert_ok(await sockets[0].ack(f)) for f in futures]
    assert sum(a["duplicate"] is False for a in acks) == 1
    assert len({a["message"]["id"] for a in acks}) == 1
    page = await sockets[0].history("lobby")
    assert len(page["messages"]) == 1


async def test_same_client_id_from_another_user_is_another_message(server,
                                                                   connect):
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await alice.join("lobby")
    await bob.join("lobby")
    a = await alice.send("lobby", "from alice", client_id="shared")
    b = await bob.send("lobby", "from bob", client_id="shared")
    assert a["duplicate"] is False and b["duplicate"] is False
    assert a["message"]["id"] != b["message"]["id"]
    assert b["message"]["user"]["id"] == "bob"
    assert b["message"]["text"] == "from bob"


async def test_same_client_id_in_another_room_is_another_message(server,
                                                                 connect):
    alice = await connect(server, "alice")
    await alice.join("one")
    await alice.join("two")
    a = await alice.send("one", "in one", client_id="shared")
    b = await alice.send("two", "in two", client_id="shared")
    assert a["duplicate"] is False and b["duplicate"] is False
    assert b["message"]["room"] == "two"
    assert b["message"]["seq"] == 1


async def test_retry_after_leaving_the_room_gets_its_answer(server, connect):
    alice = await connect(server, "alice")
    await alice.join("lobby")
    first = await alice.send("lobby", "hello", client_id="retry-1")
    await alice.leave("lobby")
    again = await alice.send("lobby", "hello", client_id="retry-1")
    assert again["duplicate"] is True
    assert again["message"] == first["message"]
    # A new client_id is a new message, which needs membership.
    assert_error(await alice.call("message", {"room": "lobby", "text": "x",
                                              "client_id": "retry-2"}),
                 NOT_IN_ROOM)


async def test_retry_from_a_new_connection_gets_its_answer(server, connect):
    alice = await connect(server, "alice")
    await alice.join("lobby")
    first = await alice.send("lobby", "hello", client_id="reconnect-1")
    await alice.close()
    reconnected = await connect(server, "alice")
    again = await reconnected.send("lobby", "hello", client_id="reconnect-1")
    assert again["duplicate"] is True
    assert again["message"] == first["message"]


async def test_retry_while_rate_limited_gets_its_answer(start_server,
                                                        connect):
    server = await start_server(rate_messages=Rate(0.1, 3))
    alice = await connect(server, "alice")
    await alice.join("lobby")
    sent = [await alice.send("lobby", f"m{i}", client_id=f"id-{i}")
            for i in range(3)]
    assert_error(await alice.call("message", {"room": "lobby", "text": "m3",
                                              "client_id": "id-3"}),
                 RATE_LIMITED)
    for i, original in enumerate(sent):
        again = await alice.send("lobby", "retry", client_id=f"id-{i}")
        assert again["duplicate"] is True
        assert again["message"] == original["message"]


async def test_idempotency_outlives_history_retention(start_server, connect):
    server = await start_server(history_retention=2)
    alice = await connect(server, "alice")
    await alice.join("lobby")
    first = await alice.send("lobby", "first", client_id="old")
    for i in range(5):
        await alice.send("lobby", f"filler {i}")
    page = await alice.history("lobby")
    assert first["message"] not in page["messages"]
    again = await alice.send("lobby", "first", client_id="old")
    assert again["duplicate"] is True
    assert again["message"] == first["message"]
    assert (await alice.join("lobby"))["last_seq"] == 6


async def test_client_id_of_64_printable_chars_is_accepted(server, connect):
    alice = await connect(server, "alice")
    await alice.join("lobby")
    for client_id in ("x" * 64, "a b", "caf\u00e9-\u6f22\u5b57", "{}[]\"'"):
        ack = await alice.send("lobby", "hi", client_id=client_id)
        assert ack["message"]["client_id"] == client_id
        assert ack["duplicate"] is False


async def test_resends_do_not_use_up_the_rate_limit(start_server, connect):
    server = await start_server(rate_messages=Rate(0.1, 3))
    alice = await connect(server, "alice")
    await alice.join("lobby")
    first = await alice.send("lobby", "hello", client_id="c1")
    for _ in range(25):
        again = await alice.send("lobby", "hello", client_id="c1")
        assert again["duplicate"] is True
        assert again["message"] == first["message"]
    # One token of three is gone: two new messages pass, the third is over.
    for n in (2, 3):
        ack = await alice.send("lobby", f"m{n}", client_id=f"c{n}")
        assert ack["duplicate"] is False
    assert_error(await alice.call("message", {"room": "lobby", "text": "m4",
                                              "client_id": "c4"}),
                 RATE_LIMITED)


async def test_concurrent_sends_of_one_client_id_take_one_token(start_server,
                                                                connect):
    server = await start_server(rate_messages=Rate(0.1, 3))
    sockets = [await connect(server, "alice") for _ in range(3)]
    for client in sockets:
        await client.join("lobby")
    futures = [await client.request("message", {"room": "lobby", "text": "x",
                                                "client_id": "storm"})
               for client in sockets for _ in range(4)]
    acks = [await sockets[0].ack(f) for f in futures]
    stored = [a for a in acks if a.get("ok") and a["duplicate"] is False]
    assert len(stored) == 1
    # Whatever raced, only the stored one kept its token.
    for n in (2, 3):
        await sockets[0].send("lobby", f"m{n}", client_id=f"c{n}")
    assert_error(await sockets[0].call("message", {"room": "lobby",
                                                   "text": "m4"}),
                 RATE_LIMITED)
