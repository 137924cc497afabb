"""/presence: subscribing, per-user presence across devices, the grace period
(across a node restart too), and all three namespaces over one connection.

A device is a ``MultiClient``; where a test must know that the server has
processed a disconnect, it waits for a positive signal first (the ack of a
request sent after it on the same connection, or the ``typing: false`` that a
disconnect causes) and only then checks that nothing else arrived.
"""
from __future__ import annotations

import time

import pytest

from chatio.constants import (CHAT_NAMESPACE, FORBIDDEN, PRESENCE_NAMESPACE,
                              TYPING_NAMESPACE)
from support import ChatioProcess, UNLIMITED, assert_error, assert_ok
from support.multi import (ALL_NAMESPACES, client_pool, presence_event,
                           typing_event)

CHAT, PRESENCE, TYPING = CHAT_NAMESPACE, PRESENCE_NAMESPACE, TYPING_NAMESPACE
PRESENCE_KEYS = {"room", "user", "status"}


@pytest.fixture
async def device(start_server, token):
    """Connect a ``MultiClient``: ``await device(server, "bob",
    namespaces=(CHAT,), name="Bob")``. All are closed before the servers
    stop."""
    async with client_pool(token) as pool:
        yield pool.connect


async def watcher(device, server, room="lobby", sub="alice",
                  namespaces=(PRESENCE,)):
    """A socket of ``sub`` subscribed to ``room`` on every namespace of
    ``namespaces`` but /chat."""
    client = await device(server, sub, namespaces=namespaces)
    for ns in namespaces:
        if ns != CHAT:
            await client.subscribe(ns, room)
    return client


async def members(client, room="lobby"):
    """The members a fresh subscribe reports, sorted by user id."""
    ack = await client.subscribe(PRESENCE, room)
    return sorted(ack["members"], key=lambda m: m["id"])


def user(user_id, name=None):
    return {"id": user_id, "name": name or user_id}


# -- subscribe and unsubscribe ------------------------------------------------

async def test_subscribe_ack_lists_one_member_per_user_however_many_devices(
        server, device):
    alice = await watcher(device, server)
    phone = await device(server, "bob", namespaces=(CHAT,), name="Bob")
    laptop = await device(server, "bob", namespaces=(CHAT,), name="Bob")
    carol = await device(server, "carol", namespaces=(CHAT,), name="Carol")
    dave = await device(server, "dave", namespaces=(CHAT,))
    for client in (phone, laptop, carol):
        await client.join("lobby")
    await dave.join("elsewhere")

    ack = assert_ok(await alice.call(PRESENCE, "subscribe",
                                     {"room": "lobby"}))
    assert set(ack) == {"ok", "room", "members"}, ack
    assert ack["room"] == "lobby"
    assert isinstance(ack["members"], list)
    assert sorted(ack["members"], key=lambda m: m["id"]) == [
        user("bob", "Bob"), user("carol", "Carol")]


async def test_subscribe_to_an_empty_room_lists_no_members(server, device):
    alice = await device(server, "alice", namespaces=(PRESENCE,))
    ack = await alice.subscribe(PRESENCE, "nobody-here")
    assert ack["members"] == []
    assert ack["room"] == "nobody-here"


async def test_subscribe_needs_no_chat_membership(server, device):
    # alice has no /chat socket at all: only /presence.
    alice = await device(server, "alice", namespaces=(PRESENCE,),
                         name="Alice")
    await alice.subscribe(PRESENCE, "lobby")
    bob = await device(server, "bob", namespaces=(CHAT,), name="Bob")
    await bob.join("lobby")
    event = await alice.next(PRESENCE, "presence")
    assert set(event) == PRESENCE_KEYS
    assert event == presence_event("lobby", "bob", "Bob", "joined")


async def test_subscribing_does_not_make_the_subscriber_present(server,
                                                                device):
    alice = await watcher(device, server, sub="alice")
    carol = await device(server, "carol", namespaces=(PRESENCE,))
    assert (await carol.subscribe(PRESENCE, "lobby"))["members"] == []
    await alice.expect_nothing(PRESENCE, "presence")


async def test_events_come_only_for_subscribed_rooms(server, device):
    alice = await watcher(device, server, room="lobby")
    bob = await device(server, "bob", namespaces=(CHAT,))
    await bob.join("elsewhere")
    await bob.leave("elsewhere")
    await alice.expect_nothing(PRESENCE, "presence")
    await bob.join("lobby")
    assert await alice.next(PRESENCE, "presence") == presence_event(
        "lobby", "bob", "bob", "joined")


@pytest.mark.parametrize("namespace", [PRESENCE, TYPING])
async def test_subscribe_is_forbidden_outside_the_token_room_patterns(
        server, device, namespace):
    alice = await device(server, "alice", namespaces=(namespace,),
                         rooms=["public.*", "team-?"])
    for room in ("public.lobby", "team-a"):
        assert (await alice.subscribe(namespace, room))["room"] == room
    for room in ("secret", "team-ab", "PUBLIC.lobby", "xpublic.lobby"):
        error = assert_error(
            await alice.call(namespace, "subscribe", {"room": room}),
            FORBIDDEN)
        assert error["retryable"] is False

    # The refused subscription delivers nothing from that room.
    bob = await device(server, "bob", namespaces=(CHAT, TYPING))
    await bob.join("secret")
    assert_ok(await bob.typing("secret", True))
    event = "presence" if namespace == PRESENCE else "typing"
    await alice.expect_nothing(namespace, event)


@pytest.mark.parametrize("namespace", [PRESENCE, TYPING])
async def test_empty_rooms_list_forbids_every_subscription(server, device,
                                                            namespace):
    alice = await device(server, "alice", namespaces=(namespace,), rooms=[])
    for room in ("lobby", "a", "public.lobby"):
        assert_error(await alice.call(namespace, "subscribe", {"room": room}),
                     FORBIDDEN)


async def test_unsubscribe_acks_ok_and_stops_presence_events(server, device):
    alice = await watcher(device, server)
    bob = await device(server, "bob", namespaces=(CHAT,))
    await bob.join("lobby")
    assert (await alice.next(PRESENCE, "presence"))["status"] == "joined"

    ack = await alice.call(PRESENCE, "unsubscribe", {"room": "lobby"})
    assert ack == {"ok": True}
    await bob.leave("lobby")
    await bob.join("lobby")
    await alice.expect_nothing(PRESENCE, "presence")

    # Subscribing again works and reports the current state.
    assert await members(alice) == [user("bob")]
    await bob.leave("lobby")
    assert await alice.next(PRESENCE, "presence") == presence_event(
        "lobby", "bob", "bob", "left")


async def test_unsubscribe_from_a_room_never_subscribed_is_ok(server, device):
    alice = await device(server, "alice", namespaces=(PRESENCE,))
    assert await alice.call(PRESENCE, "unsubscribe",
                            {"room": "never"}) == {"ok": True}


async def test_subscribers_see_their_own_presence(server, device):
    alice = await device(server, "alice", namespaces=(CHAT, PRESENCE),
                         name="Alice")
    await alice.subscribe(PRESENCE, "lobby")
    await alice.join("lobby")
    assert await alice.next(PRESENCE, "presence") == presence_event(
        "lobby", "alice", "Alice", "joined")


# -- presence is per user -----------------------------------------------------

async def test_second_device_emits_nothing_and_left_comes_after_the_last(
        start_server, device):
    server = await start_server(presence_grace=30)
    alice = await watcher(device, server)
    phone = await device(server, "bob", namespaces=(CHAT,), name="Bob")
    laptop = await device(server, "bob", namespaces=(CHAT,), name="Bob")

    await phone.join("lobby")
    assert await alice.next(PRESENCE, "presence") == presence_event(
        "lobby", "bob", "Bob", "joined")
    await laptop.join("lobby")
    await alice.expect_nothing(PRESENCE, "presence")
    # A repeated join of a socket already in the room is no transition.
    await laptop.join("lobby")
    await alice.expect_nothing(PRESENCE, "presence")

    await phone.leave("lobby")
    await alice.expect_nothing(PRESENCE, "presence")
    assert await members(alice) == [user("bob", "Bob")]

    await laptop.leave("lobby")
    assert await alice.next(PRESENCE, "presence") == presence_event(
        "lobby", "bob", "Bob", "left")
    await alice.expect_nothing(PRESENCE, "presence")
    assert await members(alice) == []


async def test_left_comes_only_when_the_last_device_disconnects(start_server,
                                                                device):
    # No grace period: a last disconnect ends presence at once.
    server = await start_server(presence_grace=0)
    alice = await watcher(device, server)
    phone = await device(server, "bob", namespaces=(CHAT, PRESENCE))
    laptop = await device(server, "bob", namespaces=(CHAT,))
    await phone.join("lobby")
    await laptop.join("lobby")
    assert (await alice.next(PRESENCE, "presence"))["status"] == "joined"

    # The phone's /chat socket goes away; the ack of a later request on the
    # same connection proves the server has handled that.
    await phone.disconnect_namespace(CHAT)
    await phone.roundtrip(PRESENCE)
    await alice.expect_nothing(PRESENCE, "presence")
    assert await members(alice) == [user("bob")]

    await laptop.drop()  # the last device loses its connection
    assert await alice.next(PRESENCE, "presence") == presence_event(
        "lobby", "bob", "bob", "left")
    await alice.expect_nothing(PRESENCE, "presence")


async def test_name_shown_is_from_the_most_recently_joined_device(server,
                                                                  device):
    alice = await watcher(device, server)
    phone = await device(server, "bob", namespaces=(CHAT,), name="Bob phone")
    laptop = await device(server, "bob", namespaces=(CHAT,),
                          name="Bob laptop")

    await phone.join("lobby")
    assert await alice.next(PRESENCE, "presence") == presence_event(
        "lobby", "bob", "Bob phone", "joined")
    await laptop.join("lobby")
    await alice.expect_nothing(PRESENCE, "presence")
    assert await members(alice) == [user("bob", "Bob laptop")]

    # The phone joins again after the laptop: its name wins again.
    await phone.leave("lobby")
    await phone.join("lobby")
    await alice.expect_nothing(PRESENCE, "presence")
    assert await members(alice) == [user("bob", "Bob phone")]


async def test_left_shows_the_most_recently_joined_devices_name(server,
                                                                device):
    alice = await watcher(device, server)
    phone = await device(server, "bob", namespaces=(CHAT,), name="Bob phone")
    laptop = await device(server, "bob", namespaces=(CHAT,),
                          name="Bob laptop")
    await phone.join("lobby")
    await laptop.join("lobby")  # the most recently joined device
    assert (await alice.next(PRESENCE, "presence"))["status"] == "joined"

    await laptop.leave("lobby")
    await alice.expect_nothing(PRESENCE, "presence")
    shown = await members(alice)
    await phone.leave("lobby")
    left = await alice.next(PRESENCE, "presence")
    assert left["status"] == "left"
    # One name for the user throughout: the left event names bob as the
    # members list did a moment before, the most recently joined device.
    assert shown == [user("bob", "Bob laptop")]
    assert left["user"] == shown[0]


# -- the grace period ---------------------------------------------------------

GRACE = 0.6


async def typing_chat_device(device, server, sub, room="lobby"):
    """A device of ``sub`` in ``room`` on /chat that is typing there.

    Its typing is the signal that the server has processed its departure:
    the user's last /chat socket going away broadcasts ``typing: false`` at
    once, grace period or not.
    """
    client = await device(server, sub, namespaces=ALL_NAMESPACES)
    await client.join(room)
    assert_ok(await client.typing(room, True))
    return client


async def gone(client, how):
    """Make ``client``'s /chat socket go away without ``leave``."""
    if how == "namespace-disconnect":
        await client.disconnect_namespace(CHAT)
    else:
        await client.drop()


@pytest.mark.parametrize("how", ["namespace-disconnect", "connection-drop"])
async def test_return_within_grace_emits_no_left_and_no_joined(start_server,
                                                                device, how):
    server = await start_server(presence_grace=GRACE,
                                rate_typing=UNLIMITED)
    alice = await watcher(device, server,
                          namespaces=(PRESENCE, TYPING))
    bob = await typing_chat_device(device, server, "bob")
    dave = await typing_chat_device(device, server, "dave")
    for _ in range(2):
        assert (await alice.next(PRESENCE, "presence"))["status"] == "joined"
    for _ in range(2):
        assert (await alice.next(TYPING, "typing"))["typing"] is True

    started = time.monotonic()
    await gone(bob, how)
    assert await alice.next(TYPING, "typing") == typing_event(
        "lobby", "bob", "bob", False)
    # The server has processed the disconnect: bob is in his grace period,
    # still listed, and nobody was told he left.
    await alice.expect_nothing(PRESENCE, "presence")
    assert await members(alice) == [user("bob"), user("dave")]

    again = await device(server, "bob", namespaces=(CHAT,))
    await again.join("lobby")
    assert time.monotonic() - started < GRACE, \
        "too slow to return within the grace period; the test proves nothing"
    await alice.expect_nothing(PRESENCE, "presence")

    # dave goes away after bob did and does not return. His left comes once
    # his grace period is over, which is after bob's would have ended.
    await gone(dave, how)
    assert await alice.next(TYPING, "typing") == typing_event(
        "lobby", "dave", "dave", False)
    assert await alice.next(PRESENCE, "presence", timeout=GRACE + 5) == \
        presence_event("lobby", "dave", "dave", "left")
    await alice.expect_nothing(PRESENCE, "presence")
    assert await members(alice) == [user("bob")]


async def test_disconnect_without_return_emits_left_after_the_grace_period(
        start_server, device):
    server = await start_server(presence_grace=GRACE,
                                rate_typing=UNLIMITED)
    alice = await watcher(device, server, namespaces=(PRESENCE, TYPING))
    bob = await typing_chat_device(device, server, "bob")
    assert (await alice.next(PRESENCE, "presence"))["status"] == "joined"
    assert (await alice.next(TYPING, "typing"))["typing"] is True

    started = time.monotonic()
    await bob.drop()
    assert (await alice.next(TYPING, "typing"))["typing"] is False
    checked = time.monotonic()
    await alice.expect_nothing(PRESENCE, "presence")
    assert await members(alice) == [user("bob")]
    assert time.monotonic() - started < GRACE, \
        "too slow to observe the grace period; the test proves nothing"

    left = await alice.next(PRESENCE, "presence", timeout=GRACE + 5)
    elapsed = time.monotonic() - started
    assert left == presence_event("lobby", "bob", "bob", "left")
    assert elapsed >= GRACE, f"left after {elapsed:.3f}s, before the grace"
    assert checked - started < elapsed
    await alice.expect_nothing(PRESENCE, "presence")
    assert await members(alice) == []


async def test_explicit_leave_is_immediate_even_with_a_long_grace(
        start_server, device):
    server = await start_server(presence_grace=30, rate_typing=UNLIMITED)
    alice = await watcher(device, server, namespaces=(PRESENCE, TYPING))
    bob = await device(server, "bob", namespaces=(CHAT,), name="Bob")
    await bob.join("lobby")
    assert (await alice.next(PRESENCE, "presence"))["status"] == "joined"

    started = time.monotonic()
    await bob.leave("lobby")
    left = await alice.next(PRESENCE, "presence", timeout=5)
    assert left == presence_event("lobby", "bob", "Bob", "left")
    assert time.monotonic() - started < 5
    assert await members(alice) == []


async def test_leave_after_a_return_within_grace_is_immediate(start_server,
                                                              device):
    server = await start_server(presence_grace=30, rate_typing=UNLIMITED)
    alice = await watcher(device, server, namespaces=(PRESENCE, TYPING))
    bob = await typing_chat_device(device, server, "bob")
    assert (await alice.next(PRESENCE, "presence"))["status"] == "joined"
    assert (await alice.next(TYPING, "typing"))["typing"] is True

    await bob.drop()
    assert (await alice.next(TYPING, "typing"))["typing"] is False
    await alice.expect_nothing(PRESENCE, "presence")
    assert await members(alice) == [user("bob")]

    again = await device(server, "bob", namespaces=(CHAT,))
    await again.join("lobby")
    await alice.expect_nothing(PRESENCE, "presence")
    await again.leave("lobby")
    assert await alice.next(PRESENCE, "presence", timeout=5) == \
        presence_event("lobby", "bob", "bob", "left")
    await alice.expect_nothing(PRESENCE, "presence")
    assert await members(alice) == []


# -- namespaces and connections -----------------------------------------------

@pytest.mark.parametrize("transports", [("websocket",), ("polling",)],
                         ids=lambda t: t[0])
async def test_all_three_namespaces_share_one_connection_and_one_token(
        start_server, device, token, transports):
    server = await start_server(rate_typing=UNLIMITED)
    shared = token("alice", name="Alice")
    alice = await device(server, namespaces=ALL_NAMESPACES,
                         transports=transports, token=shared)
    assert set(alice.sio.namespaces) == set(ALL_NAMESPACES)
    # One engine.io session carries three distinct namespace sockets.
    assert alice.eio_sid
    assert len({alice.sio.get_sid(ns) for ns in ALL_NAMESPACES}) == 3
    assert alice.sio.eio.transport() == transports[0]

    bob = await device(server, "bob", namespaces=(PRESENCE, TYPING),
                       transports=transports)
    for ns in (PRESENCE, TYPING):
        await bob.subscribe(ns, "lobby")
        await alice.subscribe(ns, "lobby")

    await alice.join("lobby")
    joined = presence_event("lobby", "alice", "Alice", "joined")
    assert await bob.next(PRESENCE, "presence") == joined
    assert await alice.next(PRESENCE, "presence") == joined
    assert (await alice.typing("lobby", True)) == {"ok": True}
    assert await bob.next(TYPING, "typing") == typing_event(
        "lobby", "alice", "Alice", True)
    await alice.expect_nothing(TYPING, "typing")
    await alice.send("lobby", "hello")
    assert await bob.next(TYPING, "typing") == typing_event(
        "lobby", "alice", "Alice", False)
    await alice.leave("lobby")
    assert await bob.next(PRESENCE, "presence") == presence_event(
        "lobby", "alice", "Alice", "left")


# -- a node restart ------------------------------------------------------------

async def test_node_restart_within_grace_does_not_flap_presence(tmp_path,
                                                                 secret,
                                                                 token):
    node = ChatioProcess(
        env={"CHATIO_SECRET": secret, "CHATIO_DATA_DIR": str(tmp_path / "d"),
             "CHATIO_PRESENCE_GRACE": "30", "CHATIO_SHUTDOWN_TIMEOUT": "5"},
        log_dir=tmp_path / "logs")
    await node.start()
    try:
        async with client_pool(token) as pool:
            alice = await pool.connect(node, "alice", namespaces=(PRESENCE,))
            bob = await pool.connect(node, "bob", namespaces=(CHAT,),
                                     name="Bob")
            await bob.join("lobby")
            assert (await alice.subscribe(PRESENCE, "lobby"))["members"] == \
                [user("bob", "Bob")]

            # SIGTERM and start again: both clients lost their connection.
            await node.restart()
            alice = await pool.connect(node, "alice", namespaces=(PRESENCE,))
            ack = await alice.subscribe(PRESENCE, "lobby")
            # bob's socket went away with the node moments ago: he is in his
            # grace period, so he still counts...
            assert ack["members"] == [user("bob", "Bob")], \
                f"bob vanished across the restart: {ack['members']}"
            # ...and coming back within it is no transition.
            bob = await pool.connect(node, "bob", namespaces=(CHAT,),
                                     name="Bob")
            await bob.join("lobby")
            await alice.expect_nothing(PRESENCE, "presence")
    finally:
        if node.running:
            await node.terminate()
