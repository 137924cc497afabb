"""A Socket.IO client on a raw asyncio protocol, cheap enough to run by
the thousand.

It counts the events the server sends without decoding them; a client
made with ``sample=True`` also decodes each event and records its latency
(the send time is the number that starts the message text). It answers
engine.io pings, and decodes acks, which only senders ask for.
"""
from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import wire

AckCallback = Callable[[Any], None]
_OPEN, _PING = b"0"[0], b"2"[0]
_MESSAGE, _EVENT, _ACK = b"4"[0], b"2"[0], b"3"[0]
_CONNECT, _DISCONNECT, _CONNECT_ERROR = b"0"[0], b"1"[0], b"4"[0]


class Totals:
    """Counters shared by every client of one load run."""

    def __init__(self) -> None:
        self.events = 0
        self.disconnects = 0
        self.latencies_ms: list[float] = []


class RawClient(asyncio.Protocol):
    """One engine.io WebSocket connection carrying one namespace."""

    def __init__(self, host: str, port: int, namespace: str, totals: Totals,
                 *, sample: bool = False) -> None:
        self.host, self.port = host, port
        self.namespace = namespace
        self.totals = totals
        self.sample = sample
        self.events = 0
        self.transport: asyncio.Transport | None = None
        self._event_prefix = len(f"42{namespace},")
        self._ack_prefix = len(f"43{namespace},")
        self._buffer = b""
        self._head: bytes | None = None
        self._accept = b""
        self._acks: dict[int, AckCallback] = {}
        self._next_ack = 0
        self._waiter: asyncio.Future[bytes] | None = None
        self.closed = False

    # --- setting up ---------------------------------------------------

    async def open(self, token: str, timeout: float) -> None:
        """Connect, upgrade, and connect the namespace with ``token``;
        raises ``ConnectionError`` if any step fails."""
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        async with asyncio.timeout(timeout):
            await loop.create_connection(lambda: self, self.host, self.port)
            await self._waiter  # engine.io OPEN
            self._waiter = loop.create_future()
            self.send(wire.connect_packet(self.namespace, {"token": token}))
            await self._waiter  # socket.io CONNECT

    async def call(self, event: str, data: Any, timeout: float) -> Any:
        """Emit ``event`` and wait for its ack."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def settle(arg: Any) -> None:
            if not future.done():
                future.set_result(arg)
        self.emit(event, data, settle)
        async with asyncio.timeout(timeout):
            return await future

    # --- sending ------------------------------------------------------

    def send(self, payload: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(wire.client_frame(payload))

    def emit(self, event: str, data: Any,
             on_ack: AckCallback | None = None) -> None:
        ack_id = None
        if on_ack is not None:
            ack_id = self._next_ack
            self._next_ack += 1
            self._acks[ack_id] = on_ack
        self.send(wire.event_packet(self.namespace, ack_id, event, data))

    def wake_at(self, size: int) -> None:
        """Be woken only once ``size`` bytes are waiting (SO_RCVLOWAT)."""
        assert self.transport is not None
        sock = self.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, size)

    def close(self) -> None:
        """Close from this side (not counted as a disconnect)."""
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    # --- asyncio.Protocol ---------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        request, self._accept = wire.upgrade_request(self.host, self.port)
        transport.write(request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self.totals.disconnects += 1
        self._fail(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        start = 0
        if self._head is None:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = data
                return
            self._head = data[:end]
            try:
                wire.check_upgrade(self._head, self._accept)
            except ConnectionError as exc:
                self._fail(exc)
                self.close()
                return
            start = end + 4
        # The hot loop: find each frame's bounds and look at two bytes.
        size = len(data)
        i = start
        events = 0
        while size - i >= 2:
            length = data[i + 1] & 0x7F
            head = i + 2
            if length == 126:
                if size - i < 4:
                    break
                length = (data[head] << 8) | data[head + 1]
                head += 2
            elif length == 127:
                if size - i < 10:
                    break
                length = int.from_bytes(data[head:head + 8], "big")
                head += 8
            end = head + length
            if end > size:
                break
            if (data[i] & 0x0F == wire.OP_TEXT and length >= 2
                    and data[head] == _MESSAGE and data[head + 1] == _EVENT):
                events += 1
                if self.sample:
                    self._sample(data[head + self._event_prefix:end])
            else:
                self._frame(data[i] & 0x0F, data[head:end])
            i = end
        if events:
            self.events += events
            self.totals.events += events
        if i < size:
            self._buffer = data[i:]

    # --- the rest -----------------------------------------------------

    def _sample(self, body: bytes) -> None:
        """Record the latency of one event ``["message", {..., "text"}]``."""
        now = time.monotonic_ns()
        try:
            name, message, *_ = json.loads(body)  # then the offset, if any
            if name != "message":
                return
            sent = int(message["text"].partition(":")[0])
        except (ValueError, TypeError, KeyError):
            return  # not one of ours
        self.totals.latencies_ms.append((now - sent) / 1e6)

    def _frame(self, opcode: int, payload: bytes) -> None:
        if opcode == wire.OP_CLOSE:
            if not self.closed:
                self.totals.disconnects += 1
            self.close()
            return
        if opcode == wire.OP_PING and self.transport is not None:
            self.transport.write(wire.client_frame(payload, wire.OP_PONG))
            return
        if opcode != wire.OP_TEXT or not payload:
            return
        kind = payload[0]
        if kind == _PING:
            self.send(b"3" + payload[1:])
        elif kind == _MESSAGE and len(payload) > 1:
            sio = payload[1]
            if sio == _ACK:
                ack_id, arg = wire.parse_ack(payload, self._ack_prefix)
                callback = self._acks.pop(ack_id, None)
                if callback is not None:
                    callback(arg)
            elif sio == _CONNECT:
                self._settle(payload)
            elif sio == _DISCONNECT:
                self.totals.disconnects += 1
            elif sio == _CONNECT_ERROR:
                self._fail(ConnectionError(
                    f"namespace refused: {payload.decode(errors='replace')}"))
        elif kind == _OPEN:
            self._settle(payload)

    def _settle(self, payload: bytes) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(payload)

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
