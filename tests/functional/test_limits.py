"""FORBIDDEN (token room patterns), TOO_MANY_ROOMS and RATE_LIMITED."""
from __future__ import annotations

import pytest

from chatio.constants import (FORBIDDEN, MAX_ROOMS_PER_SOCKET, NOT_IN_ROOM,
                              RATE_LIMITED, TOO_MANY_ROOMS)
from chatio.settings import Rate
from support import assert_error, assert_ok


@pytest.mark.parametrize("room, allowed", [
    ("public.lobby", True),
    ("public.", True),
    ("team-a", True),
    ("team-b", True),
    ("team-ab", False),
    ("team-", False),
    ("dm:alice:bob", True),
    ("dm:bob:carol", False),
    ("private", False),
    ("PUBLIC.lobby", False),
    ("xpublic.lobby", False),
])
async def test_token_room_patterns_restrict_joins(server, connect, room,
                                                  allowed):
    client = await connect(server, "alice",
                           rooms=["public.*", "team-?", "dm:*alice*"])
    ack = await client.call("join", {"room": room})
    if allowed:
        assert_ok(ack)
    else:
        error = assert_error(ack, FORBIDDEN)
        assert error["retryable"] is False


async def test_empty_rooms_list_allows_no_room(server, connect):
    client = await connect(server, "alice", rooms=[])
    for room in ("lobby", "a", "public.lobby"):
        assert_error(await client.call("join", {"room": room}), FORBIDDEN)
    assert_error(await client.call("message", {"room": "lobby", "text": "x"}),
                 NOT_IN_ROOM)


async def test_forbidden_join_does_not_make_a_member(server, connect):
    bob = await connect(server, "bob")
    await bob.join("secret")
    alice = await connect(server, "alice", rooms=["public.*"])
    assert_error(await alice.call("join", {"room": "secret"}), FORBIDDEN)
    await bob.send("secret", "psst")
    assert_error(await alice.call("history", {"room": "secret"}), NOT_IN_ROOM)
    await alice.roundtrip()
    assert alice.pending("message") == []


async def test_token_without_rooms_allows_any_room(server, connect):
    client = await connect(server, "alice")
    for room in ("lobby", "public.x", "A-z_0.9:@x", "r" * 64):
        await client.join(room)


async def test_the_101st_room_is_too_many(server, connect):
    client = await connect(server, "alice")
    for i in range(MAX_ROOMS_PER_SOCKET):
        await client.request("join", {"room": f"room-{i}"})
    # The acks of the requests above arrive before this one.
    error = assert_error(await client.call("join", {"room": "one-too-many"}),
                         TOO_MANY_ROOMS)
    assert error["retryable"] is False
    # Rejoining a room it is already in is harmless, even at the limit.
    await client.join("room-0")
    assert_error(await client.call("message",
                                   {"room": "one-too-many", "text": "x"}),
                 NOT_IN_ROOM)
    await client.leave("room-5")
    await client.join("one-too-many")
    assert_error(await client.call("join", {"room": "room-5"}),
                 TOO_MANY_ROOMS)


async def test_room_limit_is_per_socket(server, connect):
    first = await connect(server, "alice")
    for i in range(MAX_ROOMS_PER_SOCKET):
        await first.request("join", {"room": f"room-{i}"})
    assert_error(await first.call("join", {"room": "extra"}), TOO_MANY_ROOMS)
    second = await connect(server, "alice")
    await second.join("extra")


async def test_rate_limit_rejects_with_retry_after(start_server, connect):
    server = await start_server(rate_messages=Rate(0.2, 3))
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await alice.join("lobby")
    await bob.join("lobby")
    for i in range(3):
        await alice.send("lobby", f"m{i}")
    ack = await alice.call("message", {"room": "lobby", "text": "too fast"})
    error = assert_error(ack, RATE_LIMITED)
    assert error["retryable"] is True
    retry_after = error["details"]["retry_after_ms"]
    assert type(retry_after) is int and 0 < retry_after <= 5000
    # The rejected message was neither stored nor broadcast.
    page = await bob.history("lobby")
    assert [m["text"] for m in page["messages"]] == ["m0", "m1", "m2"]
    await bob.collect("message", 3)
    await bob.roundtrip()
    assert bob.pending("message") == []


async def test_rate_limit_is_per_user_across_sockets(start_server, connect):
    server = await start_server(rate_messages=Rate(0.2, 3))
    phone = await connect(server, "alice")
    laptop = await connect(server, "alice")
    other = await connect(server, "bob")
    for client in (phone, laptop, other):
        await client.join("lobby")
    for i in range(3):
        await phone.send("lobby", f"m{i}")
    assert_error(await laptop.call("message", {"room": "lobby", "text": "x"}),
                 RATE_LIMITED)
    # Another user has a bucket of their own.
    await other.send("lobby", "bob is fine")


async def test_rate_limited_error_without_callback_is_emitted(start_server,
                                                              connect):
    server = await start_server(rate_messages=Rate(0.2, 1))
    alice = await connect(server, "alice")
    await alice.join("lobby")
    await alice.send("lobby", "one")
    await alice.emit("message", {"room": "lobby", "text": "two"})
    event = await alice.next("chatio_error")
    assert event["event"] == "message"
    assert event["error"]["code"] == RATE_LIMITED
    assert event["error"]["retryable"] is True
    assert event["error"]["details"]["retry_after_ms"] > 0


async def test_disabled_rate_limit_never_limits(start_server, connect):
    server = await start_server(rate_messages=Rate(0, 0))
    alice = await connect(server, "alice")
    await alice.join("lobby")
    futures = [await alice.request("message",
                                   {"room": "lobby", "text": f"m{i}"})
               for i in range(60)]
    for future in futures:
        assert_ok(await alice.ack(future))
