"""Subscription churn: how many joins and leaves a node sustains when every
join opens a room new to the node (so it subscribes) and every leave closes
it (so it unsubscribes), and how many subscribe commands those joins cost.

``clients`` python-socketio clients on one node each join a fresh room and
leave it again, as fast as the acks come, for ``duration`` seconds. The
node's ``/metrics`` before and after give the ``SSUBSCRIBE`` commands it
sent (``chatio_pubsub_commands_total``) and the channels they named.
"""
from __future__ import annotations

import asyncio
import time
import urllib.request
from typing import Any

import socketio
from prometheus_client.parser import text_string_to_metric_families

CONNECT_TIMEOUT = 10.0
ACK_TIMEOUT = 10.0


def pubsub_counts(url: str) -> dict[str, float]:
    """The node's subscribe and unsubscribe commands and channels so far,
    and the publications it received (``received``)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("chatio_pubsub_commands_total",
                               "chatio_pubsub_command_channels_total"):
                key = f"{sample.name}:{sample.labels.get('command')}"
                counts[key] = sample.value
            elif sample.name == "chatio_pubsub_messages_received_total":
                counts["received"] = sample.value
    return counts


async def _churn(url: str, tokens: list[str], duration: float,
                 concurrent_joins: int) -> dict[str, Any]:
    clients = [socketio.AsyncClient(reconnection=False) for _ in tokens]
    await asyncio.gather(*(
        c.connect(url, namespaces=["/chat"], auth={"token": t},
                  transports=["websocket"], wait_timeout=CONNECT_TIMEOUT)
        for c, t in zip(clients, tokens)))
    joins = leaves = failures = 0
    stop = time.monotonic() + duration

    async def loop(index: int, client: socketio.AsyncClient) -> None:
        nonlocal joins, leaves, failures
        n = 0
        while time.monotonic() < stop:
            rooms = [f"churn-{index}-{n}-{k}" for k in range(concurrent_joins)]
            n += 1
            acks = await asyncio.gather(*(client.call(
                "join", {"room": room, "limit": 1}, namespace="/chat",
                timeout=ACK_TIMEOUT) for room in rooms))
            ok = sum(1 for ack in acks if ack.get("ok"))
            joins += ok
            failures += len(acks) - ok
            for room in rooms:
                ack = await client.call("leave", {"room": room},
                                        namespace="/chat", timeout=ACK_TIMEOUT)
                leaves += 1 if ack.get("ok") else 0

    started = time.monotonic()
    before = await asyncio.to_thread(pubsub_counts, url)
    await asyncio.gather(*(loop(i, c) for i, c in enumerate(clients)))
    wall = time.monotonic() - started
    await asyncio.sleep(0.5)  # the last unsubscribes go out
    after = await asyncio.to_thread(pubsub_counts, url)
    await asyncio.gather(*(c.disconnect() for c in clients))

    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    subscribes = delta("chatio_pubsub_commands_total:ssubscribe")
    return {
        "clients": len(tokens), "joins_per_call": concurrent_joins,
        "wall_s": round(wall, 3), "joins": joins, "leaves": leaves,
        "failed_joins": failures,
        "joins_per_s": round(joins / wall, 1) if wall else None,
        "leaves_per_s": round(leaves / wall, 1) if wall else None,
        "ssubscribe_commands": subscribes,
        "ssubscribe_channels": delta(
            "chatio_pubsub_command_channels_total:ssubscribe"),
        "sunsubscribe_commands": delta(
            "chatio_pubsub_commands_total:sunsubscribe"),
        "subscribe_round_trips_per_join": (
            round(subscribes / joins, 3) if joins else None),
    }


def churn(url: str, tokens: list[str], duration: float,
          concurrent_joins: int = 1) -> dict[str, Any]:
    """Run the churn against the node at ``url`` with one client per token;
    each client has ``concurrent_joins`` joins in flight at once."""
    return asyncio.run(_churn(url, tokens, duration, concurrent_joins))
