"""join, leave and message: broadcast, the ack's message and text rules."""
from __future__ import annotations

import asyncio
import time

import pytest

from chatio.constants import (EVENT_CHATIO_ERROR, INVALID_PAYLOAD, NOT_IN_ROOM,
                              UNKNOWN_EVENT)
from support import BACKENDS, assert_error, assert_ok

pytestmark = pytest.mark.parametrize("backend", BACKENDS)

MESSAGE_KEYS = {"id", "seq", "epoch", "room", "user", "text", "ts"}


def check_message(message: dict, *, room: str, user: dict, text: str,
                  client_id: str | None = None) -> None:
    assert isinstance(message, dict), message
    assert MESSAGE_KEYS <= set(message) <= MESSAGE_KEYS | {"client_id"}, \
        message
    assert isinstance(message["id"], str) and message["id"]
    assert type(message["seq"]) is int and message["seq"] >= 1
    assert message["room"] == room
    assert message["user"] == user
    assert message["text"] == text
    assert type(message["ts"]) is int
    assert message.get("client_id") == client_id


async def test_message_is_broadcast_to_other_members_and_not_the_sender(
        server, connect):
    alice = await connect(server, "alice", name="Alice")
    bob = await connect(server, "bob", name="Bob")
    for client in (alice, bob):
        await client.join("lobby")

    ack = await alice.send("lobby", "hello bob")
    received = await bob.next("message")
    assert received == ack["message"]
    check_message(received, room="lobby", text="hello bob",
                  user={"id": "alice", "name": "Alice"})

    await alice.roundtrip()
    assert alice.pending("message") == []


async def test_other_sockets_of_the_sender_receive_the_message(server,
                                                               connect):
    phone = await connect(server, "alice")
    laptop = await connect(server, "alice")
    for client in (phone, laptop):
        await client.join("lobby")
    ack = await phone.send("lobby", "synced")
    assert await laptop.next("message") == ack["message"]
    await phone.roundtrip()
    assert phone.pending("message") == []


async def test_sockets_outside_the_room_receive_nothing(server, connect):
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    outsider = await connect(server, "carol")
    await alice.join("lobby")
    await bob.join("lobby")
    await outsider.join("elsewhere")
    first = await alice.send("lobby", "one")
    assert await bob.next("message") == first["message"]
    # The lobby message was handled before bob's marker is even sent, so
    # if it had leaked to the outsider it would arrive first.
    await bob.join("elsewhere")
    marker = await bob.send("elsewhere", "marker")
    assert await outsider.next("message") == marker["message"]
    assert outsider.pending("message") == []


async def test_ack_carries_the_stored_message(server, connect):
    alice = await connect(server, "alice", name="Alice")
    await alice.join("lobby")
    before = int(time.time() * 1000)
    ack = await alice.send("lobby", "hi", client_id="c-1")
    after = int(time.time() * 1000)
    assert set(ack) == {"ok", "message", "duplicate"}
    assert ack["duplicate"] is False
    message = ack["message"]
    check_message(message, room="lobby", text="hi", client_id="c-1",
                  user={"id": "alice", "name": "Alice"})
    assert message["seq"] == 1
    assert before - 1000 <= message["ts"] <= after + 1000, "ts is epoch ms"
    history = await alice.history("lobby")
    assert history["messages"] == [message]


async def test_message_without_client_id_has_none(server, connect):
    alice = await connect(server, "alice")
    await alice.join("lobby")
    ack = await alice.send("lobby", "hi")
    assert ack["message"].get("client_id") is None


async def test_user_comes_from_the_token_of_the_sending_socket(server,
                                                               connect):
    first = await connect(server, "u1", name="First Name")
    second = await connect(server, "u1", name="Renamed")
    for client in (first, second):
        await client.join("lobby")
    a = await first.send("lobby", "a")
    b = await second.send("lobby", "b")
    assert a["message"]["user"] == {"id": "u1", "name": "First Name"}
    assert b["message"]["user"] == {"id": "u1", "name": "Renamed"}


async def test_message_ids_are_unique_strings(server, connect):
    alice = await connect(server, "alice")
    await alice.join("a")
    await alice.join("b")
    ids = set()
    for room in ("a", "b"):
        for i in range(10):
            ids.add((await alice.send(room, f"m{i}"))["message"]["id"])
    assert len(ids) == 20


@pytest.mark.parametrize("sent, stored", [
    ("  hi  ", "hi"),
    ("\u3000\u2003hi\u00a0\n\t", "hi"),
    ("line one\nline two\tend", "line one\nline two\tend"),
    ("\n\n  two\n\nparagraphs \n", "two\n\nparagraphs"),
    ("caf\u00e9 \U0001f600", "caf\u00e9 \U0001f600"),
])
async def test_text_is_trimmed_and_newlines_and_tabs_are_kept(
        server, connect, sent, stored):
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await alice.join("lobby")
    await bob.join("lobby")
    ack = await alice.send("lobby", sent)
    assert ack["message"]["text"] == stored
    assert (await bob.next("message"))["text"] == stored


async def test_text_length_is_counted_in_code_points(server, connect):
    alice = await connect(server, "alice")
    await alice.join("lobby")
    emoji = "\U0001f600"
    ack = await alice.send("lobby", emoji * 2000)
    assert ack["message"]["text"] == emoji * 2000
    assert_error(await alice.call("message",
                                  {"room": "lobby", "text": emoji * 2001}),
                 INVALID_PAYLOAD)


async def test_length_is_checked_after_trimming(server, connect):
    alice = await connect(server, "alice")
    await alice.join("lobby")
    ack = await alice.send("lobby", "  " + "a" * 2000 + "\n ")
    assert ack["message"]["text"] == "a" * 2000


async def test_max_message_chars_setting_is_honoured(start_server, connect):
    server = await start_server(max_message_chars=10)
    alice = await connect(server, "alice")
    await alice.join("lobby")
    await alice.send("lobby", "0123456789")
    error = assert_error(
        await alice.call("message", {"room": "lobby", "text": "0123456789A"}),
        INVALID_PAYLOAD)
    assert "text" in str(error.get("details"))


async def test_join_immediately_followed_by_message_never_fails(server,
                                                                connect):
    alice = await connect(server, "alice")
    pending = []
    for i in range(100):
        room = f"room-{i}"
        join = await alice.request("join", {"room": room})
        message = await alice.request("message",
                                      {"room": room, "text": f"m{i}"})
        leave = await alice.request("leave", {"room": room})
        pending.append((join, message, leave))
    for i, (join, message, leave) in enumerate(pending):
        assert_ok(await alice.ack(join))
        ack = assert_ok(await alice.ack(message))
        assert ack["message"]["room"] == f"room-{i}"
        assert ack["message"]["seq"] == 1
        assert_ok(await alice.ack(leave))


async def test_messages_from_one_socket_are_stored_in_send_order(server,
                                                                 connect):
    alice = await connect(server, "alice")
    await alice.join("lobby")
    futures = [await alice.request("message", {"room": "lobby",
                                               "text": f"m{i}"})
               for i in range(60)]
    acks = [assert_ok(await alice.ack(f)) for f in futures]
    assert [a["message"]["seq"] for a in acks] == list(range(1, 61))
    history = await alice.history("lobby", limit=100)
    assert [m["text"] for m in history["messages"]] == \
        [f"m{i}" for i in range(60)]


async def test_join_ack_has_the_documented_shape(server, connect):
    alice = await connect(server, "alice")
    ack = await alice.join("lobby")
    assert {"ok", "room", "history", "more", "last_seq", "epoch",
            "read_seq", "unread"} <= set(ack)
    assert set(ack) <= {"ok", "room", "history", "more", "last_seq", "epoch",
                        "gap", "read_seq", "unread"}
    assert ack["read_seq"] == 0 and ack["unread"] == 0
    assert ack["room"] == "lobby"
    assert ack["history"] == []
    assert ack["more"] is False
    assert ack["last_seq"] in (0, None)
    assert not ack.get("gap")


async def test_joining_twice_is_harmless(server, connect):
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await bob.join("lobby")
    await alice.join("lobby")
    again = await alice.join("lobby")
    assert again["room"] == "lobby"
    sent = await bob.send("lobby", "once")
    assert await alice.next("message") == sent["message"]
    await bob.send("lobby", "twice")
    second = await alice.next("message")
    assert second["text"] == "twice"
    assert alice.pending("message") == []


async def test_leave_stops_broadcasts_and_membership(server, connect):
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await alice.join("lobby")
    await bob.join("lobby")
    ack = await alice.leave("lobby")
    assert set(ack) == {"ok"}
    await bob.send("lobby", "alice is gone")
    assert_error(await alice.call("message", {"room": "lobby", "text": "x"}),
                 NOT_IN_ROOM)
    assert_error(await alice.call("history", {"room": "lobby"}), NOT_IN_ROOM)
    # Rejoin: the next broadcast alice sees is the one sent after it.
    await alice.join("lobby")
    back = await bob.send("lobby", "welcome back")
    assert await alice.next("message") == back["message"]


async def test_message_and_history_require_membership(server, connect):
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await bob.join("lobby")
    await bob.send("lobby", "members only")
    assert_error(await alice.call("message", {"room": "lobby", "text": "hi"}),
                 NOT_IN_ROOM)
    assert_error(await alice.call("history", {"room": "lobby"}), NOT_IN_ROOM)
    await bob.roundtrip()
    assert bob.pending("message") == []
    history = await bob.history("lobby")
    assert [m["text"] for m in history["messages"]] == ["members only"]


async def test_chatio_error_is_emitted_when_there_is_no_ack_callback(
        server, connect):
    alice = await connect(server, "alice")
    await alice.emit("message", {"room": "lobby", "text": "hi"})
    event = await alice.next(EVENT_CHATIO_ERROR)
    assert set(event) == {"event", "error"}
    assert event["event"] == "message"
    assert event["error"]["code"] == NOT_IN_ROOM
    assert event["error"]["retryable"] is False

    await alice.emit("join", {"room": "bad room!"})
    event = await alice.next(EVENT_CHATIO_ERROR)
    assert event["event"] == "join"
    assert event["error"]["code"] == INVALID_PAYLOAD

    await alice.emit("no_such_event", {"room": "lobby"})
    event = await alice.next(EVENT_CHATIO_ERROR)
    assert event["event"] == "no_such_event"
    assert event["error"]["code"] == UNKNOWN_EVENT

    await alice.roundtrip()
    assert alice.pending("error") == []


async def test_no_chatio_error_when_the_ack_callback_gets_the_error(server,
                                                                   connect):
    alice = await connect(server, "alice")
    assert_error(await alice.call("message", {"room": "x", "text": "hi"}),
                 NOT_IN_ROOM)
    await alice.roundtrip()
    assert alice.pending(EVENT_CHATIO_ERROR) == []


async def test_successful_events_without_callback_take_effect_silently(
        server, connect):
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await bob.join("lobby")
    await alice.emit("join", {"room": "lobby"})
    await alice.emit("message", {"room": "lobby", "text": "fire and forget"})
    received = await bob.next("message")
    assert received["text"] == "fire and forget"
    await alice.roundtrip()
    assert alice.pending(EVENT_CHATIO_ERROR) == []
    assert alice.pending("message") == []


async def test_many_clients_in_one_room_all_receive_each_message(server,
                                                                 connect):
    members = [await connect(server, f"user{i}") for i in range(8)]
    await asyncio.gather(*(m.join("big") for m in members))
    ack = await members[0].send("big", "to everyone")
    for member in members[1:]:
        assert await member.next("message") == ack["message"]
