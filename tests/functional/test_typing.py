"""/typing: transition-only broadcasts, expiry, clearing on leave, disconnect
and message, the room check and the per-user rate limit."""
from __future__ import annotations

import asyncio
import time

import pytest

from chatio.constants import (CHAT_NAMESPACE, EVENT_CHATIO_ERROR, NOT_IN_ROOM,
                              RATE_LIMITED, TYPING_NAMESPACE)
from chatio.settings import Rate
from support import UNLIMITED, assert_error, assert_ok
from support.multi import client_pool, typing_event

CHAT, TYPING = CHAT_NAMESPACE, TYPING_NAMESPACE


@pytest.fixture
async def device(start_server, token):
    """Connect a ``MultiClient``: ``await device(server, "bob",
    namespaces=(CHAT, TYPING), name="Bob")``."""
    async with client_pool(token) as pool:
        yield pool.connect


@pytest.fixture
async def server(start_server):
    """A node whose typing rate limit never trips."""
    return await start_server(rate_typing=UNLIMITED)


async def watcher(device, server, room="lobby", sub="alice"):
    """A /typing socket subscribed to ``room``."""
    client = await device(server, sub, namespaces=(TYPING,))
    await client.subscribe(TYPING, room)
    return client


async def typist(device, server, sub="bob", room="lobby", *,
                 namespaces=(CHAT, TYPING), **claims):
    """A device of ``sub`` whose /chat socket has joined ``room``."""
    client = await device(server, sub, namespaces=namespaces, **claims)
    await client.join(room)
    return client


# -- broadcasting -------------------------------------------------------------

async def test_typing_reaches_subscribers_but_not_the_sending_socket(
        server, device):
    alice = await watcher(device, server)
    bob = await typist(device, server, name="Bob")
    await bob.subscribe(TYPING, "lobby")
    # bob's other device is a subscriber like any other.
    bob_tablet = await watcher(device, server, sub="bob")
    carol = await watcher(device, server, room="elsewhere", sub="carol")

    ack = await bob.typing("lobby", True)
    assert ack == {"ok": True}
    expected = typing_event("lobby", "bob", "Bob", True)
    event = await alice.next(TYPING, "typing")
    assert event == expected
    assert set(event) == {"room", "user", "typing"}
    assert await bob_tablet.next(TYPING, "typing") == expected
    await bob.expect_nothing(TYPING, "typing")
    await carol.expect_nothing(TYPING, "typing")

    assert await bob.typing("lobby", False) == {"ok": True}
    assert await alice.next(TYPING, "typing") == typing_event(
        "lobby", "bob", "Bob", False)
    await bob.expect_nothing(TYPING, "typing")


async def test_a_subscribe_ack_names_the_room(server, device):
    alice = await device(server, "alice", namespaces=(TYPING,))
    ack = assert_ok(await alice.call(TYPING, "subscribe", {"room": "lobby"}))
    assert ack["room"] == "lobby"


async def test_sending_typing_needs_no_subscription(server, device):
    alice = await watcher(device, server)
    bob = await typist(device, server)
    assert_ok(await bob.typing("lobby", True))
    assert (await alice.next(TYPING, "typing"))["typing"] is True


async def test_unsubscribe_acks_ok_and_stops_typing_events(server, device):
    alice = await watcher(device, server)
    bob = await typist(device, server)
    assert_ok(await bob.typing("lobby", True))
    assert (await alice.next(TYPING, "typing"))["typing"] is True

    assert await alice.call(TYPING, "unsubscribe",
                            {"room": "lobby"}) == {"ok": True}
    assert_ok(await bob.typing("lobby", False))
    assert_ok(await bob.typing("lobby", True))
    await alice.expect_nothing(TYPING, "typing")


@pytest.mark.parametrize("with_ack", [True, False],
                         ids=["with-ack", "without-ack"])
async def test_hundred_typing_true_within_the_ttl_broadcast_once(
        server, device, with_ack):
    alice = await watcher(device, server)
    bob = await typist(device, server)
    payload = {"room": "lobby", "typing": True}
    if with_ack:
        futures = [await bob.request(TYPING, "typing", payload)
                   for _ in range(100)]
        for future in futures:
            assert await bob.ack(future) == {"ok": True}
    else:
        for _ in range(100):
            await bob.emit(TYPING, "typing", payload)
        # Handled in order: all 100 are done once this is acked.
        await bob.expect_nothing(TYPING, EVENT_CHATIO_ERROR)

    await alice.roundtrip(TYPING)
    assert alice.pending(TYPING, "typing") == [
        typing_event("lobby", "bob", "bob", True)]


async def test_typing_false_from_a_user_not_typing_does_nothing(server,
                                                                device):
    alice = await watcher(device, server)
    bob = await typist(device, server)
    assert await bob.typing("lobby", False) == {"ok": True}
    await alice.expect_nothing(TYPING, "typing")

    assert_ok(await bob.typing("lobby", True))
    assert_ok(await bob.typing("lobby", False))
    assert [e["typing"] for e in await alice.collect(TYPING, "typing", 2)] \
        == [True, False]
    assert await bob.typing("lobby", False) == {"ok": True}
    await alice.expect_nothing(TYPING, "typing")


async def test_typing_state_is_per_user_across_devices(server, device):
    alice = await watcher(device, server)
    phone = await typist(device, server, name="Bob phone")
    laptop = await typist(device, server, name="Bob laptop")

    assert_ok(await phone.typing("lobby", True))
    assert await alice.next(TYPING, "typing") == typing_event(
        "lobby", "bob", "Bob phone", True)
    assert_ok(await laptop.typing("lobby", True))
    await alice.expect_nothing(TYPING, "typing")
    # false from the laptop ends the typing the phone started.
    assert_ok(await laptop.typing("lobby", False))
    assert (await alice.next(TYPING, "typing"))["typing"] is False
    assert_ok(await phone.typing("lobby", False))
    await alice.expect_nothing(TYPING, "typing")


async def test_typing_state_is_per_room(server, device):
    alice = await watcher(device, server, room="lobby")
    await alice.subscribe(TYPING, "kitchen")
    bob = await typist(device, server)
    await bob.join("kitchen")
    assert_ok(await bob.typing("lobby", True))
    assert_ok(await bob.typing("kitchen", True))
    events = await alice.collect(TYPING, "typing", 2)
    assert sorted(e["room"] for e in events) == ["kitchen", "lobby"]
    assert all(e["typing"] is True for e in events)
    assert_ok(await bob.typing("kitchen", False))
    assert await alice.next(TYPING, "typing") == typing_event(
        "kitchen", "bob", "bob", False)
    await alice.expect_nothing(TYPING, "typing")


# -- automatic typing: false --------------------------------------------------

async def test_typing_expires_after_the_ttl(start_server, device):
    ttl = 0.4
    server = await start_server(typing_ttl=ttl, rate_typing=UNLIMITED)
    alice = await watcher(device, server)
    bob = await typist(device, server, name="Bob")

    started = time.monotonic()
    assert_ok(await bob.typing("lobby", True))
    assert (await alice.next(TYPING, "typing"))["typing"] is True
    expired = await alice.next(TYPING, "typing", timeout=ttl + 5)
    elapsed = time.monotonic() - started
    assert expired == typing_event("lobby", "bob", "Bob", False)
    assert elapsed >= ttl, f"expired after {elapsed:.3f}s"

    # Expired means not typing: false does nothing, true is a new start.
    assert_ok(await bob.typing("lobby", False))
    await alice.expect_nothing(TYPING, "typing")
    assert_ok(await bob.typing("lobby", True))
    assert (await alice.next(TYPING, "typing"))["typing"] is True


async def test_expiry_goes_to_the_sending_socket_too(start_server, device):
    server = await start_server(typing_ttl=0.3, rate_typing=UNLIMITED)
    bob = await typist(device, server)
    await bob.subscribe(TYPING, "lobby")
    assert_ok(await bob.typing("lobby", True))
    assert await bob.next(TYPING, "typing", timeout=5) == typing_event(
        "lobby", "bob", "bob", False)


async def test_refreshing_typing_postpones_the_expiry(start_server, device):
    ttl = 0.4
    server = await start_server(typing_ttl=ttl, rate_typing=UNLIMITED)
    alice = await watcher(device, server)
    bob = await typist(device, server)

    assert_ok(await bob.typing("lobby", True))
    started = time.monotonic()
    # Refresh every 0.1 s for longer than the TTL; time has to pass here.
    while time.monotonic() - started < 1.5 * ttl:
        await asyncio.sleep(0.1)
        last_refresh = time.monotonic()
        assert_ok(await bob.typing("lobby", True))
    await alice.roundtrip(TYPING)
    assert alice.pending(TYPING, "typing") == [
        typing_event("lobby", "bob", "bob", True)]

    expired = await alice.next(TYPING, "typing", timeout=ttl + 5)
    assert expired["typing"] is False
    assert time.monotonic() - last_refresh >= ttl


async def test_leaving_the_room_ends_typing(server, device):
    alice = await watcher(device, server)
    bob = await typist(device, server)
    assert_ok(await bob.typing("lobby", True))
    assert (await alice.next(TYPING, "typing"))["typing"] is True
    await bob.leave("lobby")
    assert await alice.next(TYPING, "typing") == typing_event(
        "lobby", "bob", "bob", False)
    assert_error(await bob.typing("lobby", True), NOT_IN_ROOM)
    await alice.expect_nothing(TYPING, "typing")


@pytest.mark.parametrize("how", ["namespace-disconnect", "connection-drop"])
async def test_disconnecting_chat_ends_typing_at_once_despite_the_grace(
        start_server, device, how):
    # A long presence grace period must not delay the typing: false.
    server = await start_server(presence_grace=30, rate_typing=UNLIMITED)
    alice = await watcher(device, server)
    bob = await typist(device, server, namespaces=(CHAT, TYPING))
    assert_ok(await bob.typing("lobby", True))
    assert (await alice.next(TYPING, "typing"))["typing"] is True

    started = time.monotonic()
    if how == "namespace-disconnect":
        await bob.disconnect_namespace(CHAT)
    else:
        await bob.drop()
    assert await alice.next(TYPING, "typing", timeout=5) == typing_event(
        "lobby", "bob", "bob", False)
    assert time.monotonic() - started < 5

    if how == "namespace-disconnect":
        # In the grace period the user has no /chat socket in the room.
        assert_error(await bob.typing("lobby", True), NOT_IN_ROOM)
        await alice.expect_nothing(TYPING, "typing")


async def test_sending_a_message_ends_typing(server, device):
    alice = await watcher(device, server)
    bob = await typist(device, server, name="Bob")
    await bob.join("kitchen")
    assert_ok(await bob.typing("lobby", True))
    assert (await alice.next(TYPING, "typing"))["typing"] is True

    # A message to another room leaves the typing in this one alone.
    await bob.send("kitchen", "not here")
    await alice.expect_nothing(TYPING, "typing")

    await bob.send("lobby", "done typing")
    assert await alice.next(TYPING, "typing") == typing_event(
        "lobby", "bob", "Bob", False)
    await alice.expect_nothing(TYPING, "typing")


async def test_a_message_from_another_device_ends_typing(server, device):
    alice = await watcher(device, server)
    laptop = await typist(device, server, namespaces=(CHAT, TYPING))
    phone = await typist(device, server, namespaces=(CHAT,))
    assert_ok(await laptop.typing("lobby", True))
    assert (await alice.next(TYPING, "typing"))["typing"] is True
    await phone.send("lobby", "sent from the phone")
    assert (await alice.next(TYPING, "typing"))["typing"] is False


# -- the room check -----------------------------------------------------------

async def test_typing_without_a_chat_socket_in_the_room_is_not_in_room(
        server, device):
    alice = await watcher(device, server)
    # No /chat socket at all.
    loner = await device(server, "bob", namespaces=(TYPING,))
    error = assert_error(await loner.typing("lobby", True), NOT_IN_ROOM)
    assert error["retryable"] is False
    # A /chat socket, but in another room.
    elsewhere = await typist(device, server, "carol", room="kitchen")
    assert_error(await elsewhere.typing("lobby", True), NOT_IN_ROOM)
    # Subscribing is not membership either.
    await elsewhere.subscribe(TYPING, "lobby")
    assert_error(await elsewhere.typing("lobby", True), NOT_IN_ROOM)
    await alice.expect_nothing(TYPING, "typing")


async def test_any_chat_socket_of_the_user_in_the_room_counts(server,
                                                              device):
    alice = await watcher(device, server)
    # bob's /typing and /chat sockets are on different connections.
    keyboard = await device(server, "bob", namespaces=(TYPING,))
    assert_error(await keyboard.typing("lobby", True), NOT_IN_ROOM)
    await typist(device, server, "bob", namespaces=(CHAT,))
    assert_ok(await keyboard.typing("lobby", True))
    assert (await alice.next(TYPING, "typing"))["typing"] is True


# -- the rate limit -----------------------------------------------------------

async def test_typing_over_the_rate_limit_with_an_ack_is_rate_limited(
        start_server, device):
    server = await start_server(rate_typing=Rate(1, 2))
    alice = await watcher(device, server)
    phone = await typist(device, server)
    laptop = await typist(device, server)

    assert_ok(await phone.typing("lobby", True))
    assert_ok(await phone.typing("lobby", True))
    error = assert_error(await phone.typing("lobby", False), RATE_LIMITED)
    assert error["retryable"] is True
    retry_after = error["details"]["retry_after_ms"]
    assert type(retry_after) is int and 0 < retry_after <= 1000, error
    # The limit is per user: bob's other device is over it too.
    assert_error(await laptop.typing("lobby", False), RATE_LIMITED)

    # The refused typing: false had no effect.
    await alice.roundtrip(TYPING)
    assert alice.pending(TYPING, "typing") == [
        typing_event("lobby", "bob", "bob", True)]
    # Other users have their own budget.
    carol = await typist(device, server, "carol")
    assert_ok(await carol.typing("lobby", True))


async def test_typing_over_the_rate_limit_without_an_ack_is_dropped_silently(
        start_server, device):
    server = await start_server(rate_typing=Rate(1, 2))
    alice = await watcher(device, server)
    bob = await typist(device, server, namespaces=(CHAT, TYPING))
    assert_ok(await bob.typing("lobby", True))
    assert_ok(await bob.typing("lobby", True))
    assert (await alice.next(TYPING, "typing"))["typing"] is True

    for _ in range(3):
        await bob.emit(TYPING, "typing", {"room": "lobby", "typing": False})
    # unsubscribe is not rate limited: its ack comes after the three above.
    await bob.expect_nothing(TYPING, EVENT_CHATIO_ERROR, "typing")
    await bob.expect_nothing(CHAT, EVENT_CHATIO_ERROR)
    await alice.expect_nothing(TYPING, "typing")
    # The limiter was really in force: the same event with an ack is refused.
    assert_error(await bob.typing("lobby", False), RATE_LIMITED)


async def test_typing_limit_is_separate_from_the_message_limit(start_server,
                                                               device):
    server = await start_server(rate_typing=Rate(1, 2),
                                rate_messages=Rate(1, 2))
    bob = await typist(device, server)
    assert_ok(await bob.typing("lobby", True))
    assert_ok(await bob.typing("lobby", True))
    assert_error(await bob.typing("lobby", True), RATE_LIMITED)
    await bob.send("lobby", "one")
    await bob.send("lobby", "two")

    carol = await typist(device, server, "carol")
    await carol.send("lobby", "one")
    await carol.send("lobby", "two")
    assert_error(await carol.call(CHAT, "message",
                                  {"room": "lobby", "text": "three"}),
                 RATE_LIMITED)
    assert_ok(await carol.typing("lobby", True))
