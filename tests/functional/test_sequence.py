"""``seq``: a room's gapless counter, assigned atomically by the store."""
from __future__ import annotations

import asyncio

import pytest

from chatio.transport.server import MAX_EVENT_BACKLOG
from support import BACKENDS, assert_ok

pytestmark = pytest.mark.parametrize("backend", BACKENDS)

SENDERS = 3
PER_SENDER = 50


async def send_burst(client, room: str, name: str, count: int) -> list[dict]:
    """Fire ``count`` messages without waiting, then collect the acks."""
    futures = [await client.request("message",
                                    {"room": room, "text": f"{name}-{i}"})
               for i in range(count)]
    return [assert_ok(await client.ack(f))["message"] for f in futures]


async def test_concurrent_senders_get_gapless_seqs(server, connect):
    senders = [await connect(server, f"sender{i}") for i in range(SENDERS)]
    listener = await connect(server, "listener")
    for client in (*senders, listener):
        await client.join("busy")

    bursts = await asyncio.gather(*(
        send_burst(client, "busy", f"s{i}", PER_SENDER)
        for i, client in enumerate(senders)))

    total = SENDERS * PER_SENDER
    seqs = sorted(m["seq"] for burst in bursts for m in burst)
    assert seqs == list(range(1, total + 1))
    for i, burst in enumerate(bursts):
        # One socket's messages keep their send order.
        assert [m["text"] for m in burst] == \
            [f"s{i}-{n}" for n in range(PER_SENDER)]
        assert [m["seq"] for m in burst] == sorted(m["seq"] for m in burst)

    received = await listener.collect("message", total)
    assert sorted(m["seq"] for m in received) == list(range(1, total + 1))

    history = await listener.history("busy", limit=200)
    assert [m["seq"] for m in history["messages"]] == \
        list(range(1, total + 1))
    by_seq = {m["seq"]: m for burst in bursts for m in burst}
    assert history["messages"] == [by_seq[s] for s in range(1, total + 1)]
    assert history["more"] is False
    ack = await listener.join("busy")
    assert ack["last_seq"] == total


async def test_listener_receives_room_messages_in_seq_order(server, connect):
    """A client that sees ``seq`` jump concludes it missed messages, so a
    room's broadcasts must arrive in ``seq`` order."""
    senders = [await connect(server, f"sender{i}") for i in range(SENDERS)]
    listener = await connect(server, "listener")
    for client in (*senders, listener):
        await client.join("ordered")
    await asyncio.gather(*(
        send_burst(client, "ordered", f"s{i}", 30)
        for i, client in enumerate(senders)))
    received = await listener.collect("message", SENDERS * 30)
    assert [m["seq"] for m in received] == list(range(1, SENDERS * 30 + 1))


async def test_seq_is_per_room(server, connect):
    alice = await connect(server, "alice")
    for room in ("one", "two"):
        await alice.join(room)
    assert (await alice.send("one", "a"))["message"]["seq"] == 1
    assert (await alice.send("one", "b"))["message"]["seq"] == 2
    assert (await alice.send("two", "c"))["message"]["seq"] == 1
    assert (await alice.send("one", "d"))["message"]["seq"] == 3
    assert (await alice.join("one"))["last_seq"] == 3
    assert (await alice.join("two"))["last_seq"] == 1


async def test_rejected_messages_do_not_consume_seq(server, connect):
    alice = await connect(server, "alice")
    await alice.join("room")
    await alice.send("room", "one")
    for bad in ("", "   ", "x" * 5000, "bell\x07"):
        ack = await alice.call("message", {"room": "room", "text": bad})
        assert ack["ok"] is False
    duplicate = await alice.send("room", "two", client_id="k")
    again = await alice.send("room", "two again", client_id="k")
    assert again["duplicate"] is True
    assert duplicate["message"]["seq"] == 2
    assert (await alice.send("room", "three"))["message"]["seq"] == 3


async def test_burst_past_the_event_backlog_is_served_in_order(server, connect):
    """A socket that sends far more than MAX_EVENT_BACKLOG events at once is
    slowed down, not dropped: every event is answered, in order."""
    sender = await connect(server, "flooder")
    bystander = await connect(server, "bystander")
    await sender.join("flood")
    await bystander.join("flood")
    count = MAX_EVENT_BACKLOG * 4
    burst = await send_burst(sender, "flood", "f", count)
    assert [m["text"] for m in burst] == [f"f-{n}" for n in range(count)]
    assert [m["seq"] for m in burst] == list(range(1, count + 1))
    assert (await bystander.send("flood", "still served"))["message"]["seq"] == count + 1
