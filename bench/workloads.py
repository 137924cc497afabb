"""The three workloads of ``rawload``: fan-out, moderate chat and idle.

Each has ``setup()`` (clients connected and joined, before the clock
starts), ``measure()`` (the measured phase, returning its figures) and
``close()``. Message texts start with the send time, ``monotonic_ns`` and a
colon, padded with ``x`` to ``text_bytes``; sampling clients decode it.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from rawclient import RawClient, Totals

NAMESPACE = "/chat"
POLL_S = 0.005


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of ``values`` (need not be sorted)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return round(ordered[int(rank) - 1], 3)


def text_at(now_ns: int, size: int) -> str:
    return f"{now_ns}:".ljust(size, "x")


def is_ok(ack: Any) -> bool:
    return isinstance(ack, dict) and ack.get("ok") is True


async def open_all(clients: Sequence[RawClient], tokens: Sequence[str],
                   rooms: Sequence[str], concurrency: int, timeout: float,
                   failures: list[str] | None = None,
                   give_up: float = float("inf")) -> None:
    """Connect and join every client, ``concurrency`` at a time. A failure
    raises, or is appended to ``failures`` when it is given; so are the
    clients not yet started at the monotonic time ``give_up``."""
    pending = iter(range(len(clients)))

    async def worker() -> None:
        for index in pending:
            client = clients[index]
            if time.monotonic() >= give_up and failures is not None:
                failures.append("not tried: the connect phase took too long")
                continue
            try:
                await client.open(tokens[index], timeout)
                ack = await client.call(
                    "join", {"room": rooms[index], "limit": 0}, timeout)
                if not is_ok(ack):
                    raise ConnectionError(f"join refused: {ack}")
            except (ConnectionError, OSError, TimeoutError) as exc:
                client.close()
                reason = f"{type(exc).__name__}: {exc or 'no answer in time'}"
                if failures is None:
                    raise ConnectionError(f"client {index}: {reason}") from exc
                failures.append(reason)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


class Workload:
    """What every mode shares: the clients, their rooms and tokens."""

    def __init__(self, config: dict[str, Any], rooms: list[str],
                 sample_every: int) -> None:
        self.config = config
        self.totals = Totals()
        self.rooms = rooms
        self.clients = [
            RawClient(config["host"], config["port"], NAMESPACE, self.totals,
                      sample=sample_every > 0 and i % sample_every == 0)
            for i in range(len(rooms))]
        self.concurrency = int(config.get("concurrency", 64))
        self.timeout = float(config.get("timeout", 20.0))

    async def open(self, failures: list[str] | None = None) -> float:
        """Set every client up; the seconds it took. With ``failures``,
        clients not started within ``phase_timeout`` seconds fail."""
        started = time.monotonic()
        give_up = started + float(self.config.get("phase_timeout", 120.0))
        await open_all(self.clients, self.config["tokens"], self.rooms,
                       self.concurrency, self.timeout, failures, give_up)
        return time.monotonic() - started

    async def setup(self) -> dict[str, Any]:
        raise NotImplementedError

    async def measure(self) -> dict[str, Any]:
        raise NotImplementedError

    def reset(self) -> None:
        self.totals.events = 0
        self.totals.latencies_ms.clear()

    def latency(self) -> dict[str, Any]:
        samples = self.totals.latencies_ms
        return {"latency_samples": len(samples),
                "latency_ms_p50": percentile(samples, 50),
                "latency_ms_p99": percentile(samples, 99)}

    def close(self) -> None:
        for client in self.clients:
            client.close()


class Fanout(Workload):
    """One sender keeps ``window`` acked messages in flight to one room of
    receivers for ``duration`` seconds."""

    def __init__(self, config: dict[str, Any]) -> None:
        receivers = len(config["tokens"]) - 1  # the last one sends
        super().__init__(config, ["fanout"] * (receivers + 1),
                         int(config.get("sample_every", 20)))
        self.sender = self.clients[-1]
        self.sender.sample = False
        self.receivers = self.clients[:-1]

    async def setup(self) -> dict[str, Any]:
        seconds = await self.open()
        return {"clients": len(self.clients), "setup_s": round(seconds, 3)}

    def batch(self, size: int) -> None:
        """Wake receivers that do not sample only once ``size`` bytes wait:
        fewer, larger reads make them cheaper. 1 turns it off."""
        if size > 0:
            for client in self.receivers:
                if not client.sample:
                    client.wake_at(size)

    async def measure(self) -> dict[str, Any]:
        window = int(self.config.get("window", 8))
        duration = float(self.config["duration"])
        size = int(self.config.get("text_bytes", 100))
        drain = float(self.config.get("drain_timeout", 15.0))
        count = {"sent": 0, "acked": 0, "refused": 0, "in_flight": 0}
        ack_ms: list[float] = []
        self.reset()
        started = time.monotonic()
        deadline = started + duration

        def send() -> None:
            now = time.monotonic_ns()
            count["sent"] += 1
            count["in_flight"] += 1
            self.sender.emit("message", {
                "room": "fanout", "text": text_at(now, size),
                "client_id": f"f{count['sent']}"}, lambda ack: acked(ack, now))

        def acked(ack: Any, sent_ns: int) -> None:
            count["in_flight"] -= 1
            if is_ok(ack):
                count["acked"] += 1
                ack_ms.append((time.monotonic_ns() - sent_ns) / 1e6)
            else:
                count["refused"] += 1
            if time.monotonic() < deadline:
                send()

        self.batch(int(self.config.get("batch_bytes", 4096)))
        asyncio.get_running_loop().call_later(duration, self.batch, 1)
        for _ in range(window):
            send()
        receivers = len(self.receivers)
        last = await poll(self.totals, deadline + drain, lambda now: (
            now >= deadline and count["in_flight"] == 0
            and self.totals.events >= count["acked"] * receivers))
        counts = [client.events for client in self.receivers]
        expected = count["acked"] * receivers
        return {
            **{k: v for k, v in count.items() if k != "in_flight"},
            "unacked": count["in_flight"],
            "deliveries": self.totals.events,
            "expected_deliveries": expected,
            "drained": self.totals.events == expected
                       and not count["in_flight"],
            "min_per_receiver": min(counts), "max_per_receiver": max(counts),
            "disconnects": self.totals.disconnects,
            "send_s": round(duration, 3),
            "total_s": round(last - started, 3),
            "messages_per_s": round(count["acked"] / duration, 1),
            "deliveries_per_s": round(
                self.totals.events / max(last - started, 1e-9), 1),
            "ack_ms_p50": percentile(ack_ms, 50),
            "ack_ms_p99": percentile(ack_ms, 99),
            **self.latency(),
        }


class Chat(Workload):
    """Every client sends a message every ``period`` seconds to its room
    of ``room_size``; the sends are spread evenly over the period."""

    def __init__(self, config: dict[str, Any]) -> None:
        size = int(config.get("room_size", 10))
        rooms = [f"chat-{i // size}" for i in range(len(config["tokens"]))]
        super().__init__(config, rooms, int(config.get("sample_every", 10)))
        self.members = {room: rooms.count(room) for room in set(rooms)}

    async def setup(self) -> dict[str, Any]:
        seconds = await self.open()
        return {"clients": len(self.clients), "setup_s": round(seconds, 3)}

    async def measure(self) -> dict[str, Any]:
        period = float(self.config.get("period", 2.0))
        duration = float(self.config["duration"])
        size = int(self.config.get("text_bytes", 100))
        drain = float(self.config.get("drain_timeout", 15.0))
        clients = len(self.clients)
        acked_by = [0] * clients
        room_acked = dict.fromkeys(self.members, 0)
        count = {"sent": 0, "acked": 0, "refused": 0, "in_flight": 0,
                 "expected": 0}
        ack_ms: list[float] = []
        self.reset()

        def send(index: int) -> None:
            now = time.monotonic_ns()
            count["sent"] += 1
            count["in_flight"] += 1
            room = self.rooms[index]
            self.clients[index].emit("message", {
                "room": room, "text": text_at(now, size),
                "client_id": f"c{count['sent']}"},
                lambda ack: acked(ack, index, room, now))

        def acked(ack: Any, index: int, room: str, sent_ns: int) -> None:
            count["in_flight"] -= 1
            if not is_ok(ack):
                count["refused"] += 1
                return
            count["acked"] += 1
            acked_by[index] += 1
            room_acked[room] += 1
            count["expected"] += self.members[room] - 1
            ack_ms.append((time.monotonic_ns() - sent_ns) / 1e6)

        started = time.monotonic()
        deadline = started + duration
        rate = clients / period
        total = int(duration * rate)
        scheduled = 0
        while scheduled < total:
            due = min(total, int((time.monotonic() - started) * rate) + 1)
            for number in range(scheduled, due):
                send(number % clients)
            scheduled = due
            await asyncio.sleep(0.002)
        send_s = time.monotonic() - started
        last = await poll(self.totals, deadline + drain, lambda now: (
            count["in_flight"] == 0
            and self.totals.events >= count["expected"]))
        lost = extra = 0
        for index, client in enumerate(self.clients):
            want = room_acked[self.rooms[index]] - acked_by[index]
            lost += max(0, want - client.events)
            extra += max(0, client.events - want)
        return {
            **{k: v for k, v in count.items()
               if k not in {"in_flight", "expected"}},
            "unacked": count["in_flight"],
            "deliveries": self.totals.events,
            "expected_deliveries": count["expected"],
            "lost": lost, "unexpected": extra,
            "drained": not (lost or extra or count["in_flight"]),
            "disconnects": self.totals.disconnects,
            "send_s": round(send_s, 3),
            "total_s": round(last - started, 3),
            "messages_per_s": round(count["acked"] / send_s, 1),
            "deliveries_per_s": round(
                self.totals.events / max(send_s, last - started), 1),
            "ack_ms_p50": percentile(ack_ms, 50),
            "ack_ms_p99": percentile(ack_ms, 99),
            **self.latency(),
        }


class Idle(Workload):
    """Connect and join every client, ``room_size`` to a room, then leave
    them connected; the measured phase is the connecting."""

    def __init__(self, config: dict[str, Any]) -> None:
        size = int(config.get("room_size", 10))
        rooms = [f"idle-{i // size}" for i in range(len(config["tokens"]))]
        super().__init__(config, rooms, 0)

    async def setup(self) -> dict[str, Any]:
        return {"clients": 0}

    async def measure(self) -> dict[str, Any]:
        failures: list[str] = []
        seconds = await self.open(failures)
        connected = len(self.clients) - len(failures)
        return {"connected": connected, "failed": len(failures),
                "failures": sorted(set(failures))[:5],
                "connect_s": round(seconds, 3),
                "connects_per_s": round(connected / seconds, 1),
                "disconnects": self.totals.disconnects}


async def poll(totals: Totals, give_up: float,
               finished: Callable[[float], bool]) -> float:
    """Wait until ``finished(now)`` or ``give_up``; the monotonic time the
    event count last changed."""
    seen, changed = totals.events, time.monotonic()
    while True:
        now = time.monotonic()
        if totals.events != seen:
            seen, changed = totals.events, now
        if finished(now) or now >= give_up:
            return changed
        await asyncio.sleep(POLL_S)


MODES: dict[str, Callable[[dict[str, Any]], Workload]] = {
    "fanout": Fanout, "chat": Chat, "idle": Idle}
