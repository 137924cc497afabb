"""What a fuzz session hears back: server packets, connect replies, acks.

The server's packets are trusted to be well formed; anything that is not
is counted as ``garbled`` and otherwise ignored.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections import Counter
from typing import Any

_SIO = re.compile(r"^4(\d)(?:(/[^,]*),)?(\d+)?(.*)\Z", re.S)
# Ack ids the probe uses; fuzzed packets use smaller ones.
PROBE_ID_BASE = 10**7


@dataclasses.dataclass(frozen=True)
class Reply:
    """One Socket.IO packet from the server."""

    kind: int
    namespace: str
    ack: int | None
    data: Any


def parse(text: str) -> Reply | str:
    """A Socket.IO packet, or the engine.io packet type as a name."""
    if not text:
        return "garbled"
    if text[0] != "4":
        return {"0": "open", "1": "close", "2": "ping", "3": "pong",
                "6": "noop"}.get(text[0], "garbled")
    match = _SIO.match(text)
    if match is None:
        return "garbled"
    kind, namespace, ack, rest = match.groups()
    try:
        data = json.loads(rest) if rest else None
    except ValueError:
        return "garbled"
    return Reply(int(kind), namespace or "/", int(ack) if ack else None, data)


class Listener:
    """Resolves what the probe waits for from whatever the server sends."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.closed = asyncio.Event()
        self._connects: dict[str, asyncio.Future[bool]] = {}
        # CONNECT and CONNECT_ERROR replies heard, per namespace.
        self.connect_replies: Counter[str] = Counter()
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._probe_ids = 0

    def heard(self, text: str) -> str:
        """Handle one packet; returns its engine.io name or ``sio``."""
        reply = parse(text)
        if isinstance(reply, str):
            self.counts[reply] += 1
            if reply == "close":
                self.closed.set()
            return reply
        self.counts[f"sio-{reply.kind}"] += 1
        if reply.kind in (0, 4):  # CONNECT or CONNECT_ERROR
            self.connect_replies[reply.namespace] += 1
            future = self._connects.pop(reply.namespace, None)
            if future is not None and not future.done():
                future.set_result(reply.kind == 0)
        elif reply.kind == 3 and reply.ack is not None:
            future = self._acks.pop(reply.ack, None)
            if future is not None and not future.done():
                future.set_result(reply.data)
        return "sio"

    def expect_connect(self, namespace: str) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._connects[namespace] = future
        return future

    def connect_answered_since(self, namespace: str, count: int) -> str:
        """How the probe's CONNECT fared, for a report."""
        if self.connect_replies[namespace] > count:
            return "a CONNECT reply came back"
        return "not even its CONNECT was answered"

    def expect_ack(self) -> tuple[int, asyncio.Future[Any]]:
        self._probe_ids += 1
        ack = PROBE_ID_BASE + self._probe_ids
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack] = future
        return ack, future


def probe_packet(ack: int) -> str:
    """An event every chatio namespace answers: an unknown one."""
    return f'42/chat,{ack}["fuzz-probe",{{}}]'


def probe_answered(data: Any) -> bool:
    """Whether an ack is chatio's answer to the probe."""
    return (isinstance(data, list) and len(data) == 1
            and isinstance(data[0], dict) and data[0].get("ok") is False
            and isinstance(data[0].get("error"), dict)
            and data[0]["error"].get("code") == "UNKNOWN_EVENT")
