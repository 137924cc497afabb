"""Per-room routing on a real redis-server: a node hears only the rooms it
has members in, subscribes on the first join and unsubscribes on the last
leave, acks a join only once it hears the room, and shares subscribe
commands between concurrent joins."""
from __future__ import annotations

import asyncio

from chatio.constants import CHAT_NAMESPACE, PRESENCE_NAMESPACE, TYPING_NAMESPACE
from support import assert_ok
from support.metrics import scrape
from support.multi import client_pool, presence_event, typing_event
from support.readiness import wait_ready

RECEIVED = "chatio_pubsub_messages_received_total"
COMMANDS = "chatio_pubsub_commands_total"
CHANNELS = "chatio_pubsub_channels"
TIMEOUT = 20.0


async def received(node) -> float:
    value = (await scrape(node.url)).value(RECEIVED)
    assert value is not None
    return value


async def until(condition, timeout: float = TIMEOUT) -> None:
    async def poll() -> None:
        while not await condition():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout)


async def test_a_node_without_members_receives_none_of_the_rooms_traffic(
        redis_server, start_node, connect):
    busy = await start_node(redis_server)
    idle = await start_node(redis_server)
    await wait_ready(busy.url, True, TIMEOUT)
    await wait_ready(idle.url, True, TIMEOUT)
    alice = await connect(busy, "alice")
    bob = await connect(busy, "bob")
    carol = await connect(idle, "carol")
    assert_ok(await alice.join("busy"))
    assert_ok(await bob.join("busy"))
    assert_ok(await carol.join("elsewhere"))
    before = await received(idle)
    for n in range(30):
        assert_ok(await alice.send("busy", f"m{n}"))
    await bob.collect("message", 30)
    assert await received(idle) == before

    # The control: with a member there, the same node hears every message.
    assert_ok(await carol.join("busy"))
    joined = await received(idle)
    for n in range(10):
        assert_ok(await alice.send("busy", f"again {n}"))
    await carol.collect("message", 10)
    assert await received(idle) >= joined + 10


async def test_the_last_leave_unsubscribes_and_the_node_hears_nothing_more(
        redis_server, start_node, connect):
    node_a = await start_node(redis_server)
    node_b = await start_node(redis_server)
    await wait_ready(node_b.url, True, TIMEOUT)
    alice = await connect(node_a, "alice")
    bob = await connect(node_b, "bob")
    dave = await connect(node_b, "dave")
    assert_ok(await alice.join("lobby"))
    start_channels = (await scrape(node_b.url)).value(CHANNELS)
    assert_ok(await bob.join("lobby"))
    assert_ok(await dave.join("lobby"))
    assert (await scrape(node_b.url)).value(CHANNELS) == start_channels + 1
    assert_ok(await bob.leave("lobby"))
    assert (await scrape(node_b.url)).value(CHANNELS) == start_channels + 1
    assert_ok(await alice.send("lobby", "dave still hears this"))
    assert (await dave.next("message"))["text"] == "dave still hears this"
    assert_ok(await dave.leave("lobby"))
    assert (await scrape(node_b.url)).value(CHANNELS) == start_channels
    # The unsubscribe is confirmed asynchronously: wait until a publish to
    # the room is no longer counted, then check a burst is not either.
    before = await received(node_b)
    for n in range(20):
        assert_ok(await alice.send("lobby", f"after {n}"))
    await alice.roundtrip()
    settled = await received(node_b)
    assert settled - before <= 1
    for n in range(20):
        assert_ok(await alice.send("lobby", f"later {n}"))
    await alice.roundtrip()
    assert await received(node_b) == settled


async def test_a_joiner_never_misses_a_message_under_concurrent_sends(
        redis_server, start_node, connect):
    node_a = await start_node(redis_server)
    node_b = await start_node(redis_server)
    await wait_ready(node_b.url, True, TIMEOUT)
    senders = [await connect(node_a, f"sender{n}") for n in range(3)]
    for sender in senders:
        assert_ok(await sender.join("hot"))
    stop = asyncio.Event()

    async def send_forever(sender) -> int:
        sent = 0
        while not stop.is_set():
            assert_ok(await sender.send("hot", f"{sent}"))
            sent += 1
        return sent

    tasks = [asyncio.ensure_future(send_forever(s)) for s in senders]
    joiners = []
    try:
        for attempt in range(8):
            await asyncio.sleep(0.05)  # let sends run between joins
            joiner = await connect(node_b, f"joiner{attempt}")
            ack = assert_ok(await joiner.join("hot", limit=100))
            joiners.append((joiner, ack))
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    final = assert_ok(await senders[0].join("hot", limit=1))["last_seq"]
    for attempt, (joiner, ack) in enumerate(joiners):
        seen = {m["seq"] for m in ack["history"]}
        assert ack["last_seq"] >= max(seen, default=0)
        low = min(seen) if seen else ack["last_seq"] + 1

        live: set[int] = set()

        async def complete() -> bool:
            live.update(m["seq"] for m in joiner.pending("message"))
            return final in live or final in seen
        await until(complete)
        missing = set(range(low, final + 1)) - seen - live
        assert not missing, (attempt, sorted(missing))


async def test_concurrent_joins_share_subscribe_commands(
        redis_server, start_node, connect):
    node = await start_node(redis_server)
    await wait_ready(node.url, True, TIMEOUT)
    clients = [await connect(node, f"user{n}") for n in range(40)]
    before = (await scrape(node.url)).value(COMMANDS, command="ssubscribe")
    acks = await asyncio.gather(*(c.join(f"room{n}")
                                  for n, c in enumerate(clients)))
    for ack in acks:
        assert_ok(ack)
    after = (await scrape(node.url)).value(COMMANDS, command="ssubscribe")
    # 40 new rooms; one command each would be 40.
    assert 1 <= after - before <= 10, after - before


async def test_presence_and_typing_cross_nodes_with_per_room_routing(
        redis_server, start_node, token):
    node_a = await start_node(redis_server)
    node_b = await start_node(redis_server)
    await wait_ready(node_b.url, True, TIMEOUT)
    async with client_pool(token) as pool:
        watcher = await pool.connect(
            node_b, "alice", namespaces=(PRESENCE_NAMESPACE, TYPING_NAMESPACE))
        await watcher.subscribe(PRESENCE_NAMESPACE, "lobby")
        await watcher.subscribe(TYPING_NAMESPACE, "lobby")
        bob = await pool.connect(node_a, "bob",
                                 namespaces=(CHAT_NAMESPACE, TYPING_NAMESPACE),
                                 name="Bob")
        await bob.join("lobby")
        assert await watcher.next(PRESENCE_NAMESPACE, "presence") == \
            presence_event("lobby", "bob", "Bob", "joined")
        assert await bob.typing("lobby", True) == {"ok": True}
        assert await watcher.next(TYPING_NAMESPACE, "typing") == typing_event(
            "lobby", "bob", "Bob", True)
