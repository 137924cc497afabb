"""Hostile Socket.IO packets: reserved and non-string event names, unknown
events, lone surrogates and oversized packets.

Raw packets are written by hand and sent with an ack id taken from the
client's own ack registry, so the server's answer comes back as an ack.
"""
from __future__ import annotations

import json

import pytest

from chatio.constants import (EVENT_CHATIO_ERROR, INVALID_PAYLOAD,
                              RESERVED_EVENTS, UNKNOWN_EVENT)
from support import assert_error, assert_ok

RESERVED_NAMES = sorted(RESERVED_EVENTS | {
    "connect", "disconnect", "*", "", "connect_error", "disconnecting",
    "__disconnect_final", "newListener", "removeListener"})

NON_STRING_NAMES = {
    "int": "123", "zero": "0", "float": "1.5", "null": "null",
    "true": "true", "false": "false", "object": "{}",
    "object-with-name": '{"name":"join"}', "list": '["join"]',
    "empty-list": "[]",
}


@pytest.fixture
async def pair(server, connect):
    """alice and bob, both in "lobby"."""
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await alice.join("lobby")
    await bob.join("lobby")
    return alice, bob


async def check_still_a_member(alice, bob) -> None:
    """alice is connected, still in "lobby" (no disconnect logic ran) and
    both directions of the room work."""
    assert alice.connected
    from_bob = await bob.send("lobby", "are you there?")
    assert await alice.next("message") == from_bob["message"]
    from_alice = await alice.send("lobby", "yes")
    assert await bob.next("message") == from_alice["message"]
    await alice.join("another-room")


@pytest.mark.parametrize("name", RESERVED_NAMES)
@pytest.mark.parametrize("payload", ["{}", '{"room":"lobby"}', '"x"'],
                         ids=["empty-object", "room", "string"])
async def test_reserved_event_names_are_unknown_events(pair, name, payload):
    alice, bob = pair
    ack = await alice.raw_call(f"[{json.dumps(name)},{payload}]")
    assert_error(ack, UNKNOWN_EVENT)
    await check_still_a_member(alice, bob)


@pytest.mark.parametrize("name", ["connect", "disconnect", "*", ""])
async def test_reserved_event_names_without_arguments(pair, name):
    alice, bob = pair
    ack = await alice.raw_call(f"[{json.dumps(name)}]")
    assert ack["ok"] is False
    assert ack["error"]["code"] in (UNKNOWN_EVENT, INVALID_PAYLOAD)
    assert_error(ack, ack["error"]["code"])
    await check_still_a_member(alice, bob)


@pytest.mark.parametrize("name", NON_STRING_NAMES.values(),
                         ids=NON_STRING_NAMES.keys())
async def test_non_string_event_names_are_unknown_events(pair, name):
    alice, bob = pair
    assert_error(await alice.raw_call(f"[{name},{{}}]"), UNKNOWN_EVENT)
    await check_still_a_member(alice, bob)


async def test_packet_without_event_name_is_refused(pair):
    alice, bob = pair
    ack = await alice.raw_call("[]")
    assert ack["ok"] is False
    assert ack["error"]["code"] in (UNKNOWN_EVENT, INVALID_PAYLOAD)
    assert_error(ack, ack["error"]["code"])
    await check_still_a_member(alice, bob)


@pytest.mark.parametrize("name", ["disconnect", "connect", "*"])
async def test_reserved_names_without_ack_id_do_not_disconnect(pair, name):
    alice, bob = pair
    await alice.raw_send(f'[{json.dumps(name)},{{"room":"lobby"}}]')
    notice = await alice.next(EVENT_CHATIO_ERROR)
    assert notice["error"]["code"] == UNKNOWN_EVENT
    await check_still_a_member(alice, bob)


@pytest.mark.parametrize("name", [
    "bogus", "Join", "join ", " message", "MESSAGE", "chatio_error", "error",
    "typing", "presence", "x" * 5000, "join\x00", "\u00e9v\u00e9nement",
])
async def test_unknown_events_are_refused(pair, name):
    alice, bob = pair
    error = assert_error(await alice.call(name, {"room": "lobby"}),
                         UNKNOWN_EVENT)
    assert error["retryable"] is False
    assert_error(await alice.call(name), UNKNOWN_EVENT)
    assert_error(await alice.call(name, 1, 2, 3), UNKNOWN_EVENT)
    await check_still_a_member(alice, bob)


LONE_SURROGATES = {
    "join-room": r'["join",{"room":"lob\ud800by"}]',
    "leave-room": r'["leave",{"room":"\udfff"}]',
    "history-room": r'["history",{"room":"lobby\ud800"}]',
    "message-room": r'["message",{"room":"\ud800","text":"hi"}]',
    "message-text-high": r'["message",{"room":"lobby","text":"a\ud800b"}]',
    "message-text-low": r'["message",{"room":"lobby","text":"a\udc00"}]',
    "message-text-swapped":
        r'["message",{"room":"lobby","text":"\ude00\ud83d"}]',
    "message-text-only-surrogate":
        r'["message",{"room":"lobby","text":"\ud800"}]',
    "message-client_id":
        r'["message",{"room":"lobby","text":"hi","client_id":"\ud800"}]',
    "unknown-key": r'["join",{"room":"lobby","\ud800":1}]',
}


@pytest.mark.parametrize("body", LONE_SURROGATES.values(),
                         ids=LONE_SURROGATES.keys())
async def test_lone_surrogates_are_invalid_payload(pair, body):
    alice, bob = pair
    assert_error(await alice.raw_call(body), INVALID_PAYLOAD)
    await check_still_a_member(alice, bob)
    page = await bob.history("lobby")
    assert all("\ud800" not in m["text"] and "\udc00" not in m["text"]
               for m in page["messages"])


async def test_lone_surrogate_event_name_is_unknown(pair):
    alice, bob = pair
    assert_error(await alice.raw_call(r'["\ud800",{}]'), UNKNOWN_EVENT)
    await check_still_a_member(alice, bob)


async def test_escaped_surrogate_pair_is_a_valid_character(pair):
    alice, bob = pair
    ack = assert_ok(await alice.raw_call(
        r'["message",{"room":"lobby","text":"smile \ud83d\ude00"}]'))
    assert ack["message"]["text"] == "smile \U0001f600"
    assert (await bob.next("message"))["text"] == "smile \U0001f600"


async def test_raw_valid_packet_is_handled_normally(pair):
    alice, bob = pair
    ack = assert_ok(await alice.raw_call(
        '["message",{"room":"lobby","text":"raw"}]'))
    assert await bob.next("message") == ack["message"]


async def test_flood_of_hostile_packets_leaves_the_server_serving(
        pair, server, connect):
    alice, bob = pair
    futures = []
    for name in RESERVED_NAMES:
        futures.append(await alice.raw_request(f"[{json.dumps(name)},{{}}]"))
    for name in NON_STRING_NAMES.values():
        futures.append(await alice.raw_request(f"[{name},{{}}]"))
    for body in LONE_SURROGATES.values():
        futures.append(await alice.raw_request(body))
    for future in futures:
        ack = await alice.ack(future)
        assert ack["ok"] is False
        assert ack["error"]["code"] in (UNKNOWN_EVENT, INVALID_PAYLOAD)
    await check_still_a_member(alice, bob)
    newcomer = await connect(server, "carol")
    await newcomer.join("lobby")


@pytest.mark.parametrize("transports", [("websocket",), ("polling",)],
                         ids=lambda t: t[0])
async def test_oversized_packet_closes_only_that_connection(start_server,
                                                            connect,
                                                            transports):
    server = await start_server(max_payload=4096)
    alice = await connect(server, "alice", transports=transports)
    bob = await connect(server, "bob", transports=transports)
    await alice.join("lobby")
    await bob.join("lobby")
    # Below the limit is fine.
    await alice.send("lobby", "a" * 1000)
    await bob.next("message")

    await alice.emit("message", {"room": "lobby", "text": "a" * 10000})
    # The client learns at once (not after a request timeout).
    await alice.wait_disconnected(timeout=5)

    ack = await bob.send("lobby", "bob carries on")
    assert ack["message"]["text"] == "bob carries on"
    newcomer = await connect(server, "carol")
    await newcomer.join("lobby")
    other = await bob.send("lobby", "hello carol")
    assert await newcomer.next("message") == other["message"]
    page = await bob.history("lobby")
    assert all(len(m["text"]) <= 1000 for m in page["messages"])


async def test_repeated_connect_keeps_the_socket_usable(server, connect) -> None:
    """socket.io-client sends CONNECT twice when connect() is called on an
    auto-connecting Manager socket; the socket must keep working."""
    alice = await connect(server, "alice")
    sid = alice.sio.get_sid("/chat")
    await alice.sio.eio.send('0/chat,{"token":"ignored"}')
    ack = await alice.call("join", {"room": "lobby"})
    assert ack["ok"] is True
    assert alice.sio.get_sid("/chat") == sid
    assert alice.connected
    # The official client destroys a socket that gets a connect_error.
    assert alice.connect_errors.empty()
