"""A WebSocket client that writes any frame, valid or not (RFC 6455).

A normal client library refuses to send an unmasked frame, a bad opcode or
a continuation out of place; this one sends exactly what it is told.
Reading handles what a server sends: text, binary, close and ping frames.
"""
from __future__ import annotations

import asyncio
import base64
import os
import struct
from dataclasses import dataclass

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
MAX_HEAD = 16_384
# A server frame larger than this is not read (the fuzzer never needs one).
MAX_READ = 8 * 1024 * 1024


class HandshakeRefused(Exception):
    """The server answered the upgrade with ``status`` instead of 101."""

    def __init__(self, status: int) -> None:
        super().__init__(f"upgrade answered {status}")
        self.status = status


@dataclass(frozen=True)
class Message:
    opcode: int
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def encode_text(text: str) -> bytes:
    """UTF-8, with lone surrogates written as their (invalid) bytes."""
    return text.encode("utf-8", "surrogatepass")


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0,
          masked: bool = True, declared: int | None = None) -> bytes:
    """One frame; ``declared`` puts a false length in the header."""
    length = len(payload) if declared is None else declared
    head = bytearray([(0x80 if fin else 0) | (rsv & 0x7) << 4 | opcode & 0xF])
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head.append(mask_bit | length)
    elif length < 1 << 16:
        head.append(mask_bit | 126)
        head += struct.pack("!H", length)
    else:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", length)
    if not masked:
        return bytes(head) + payload
    key = os.urandom(4)
    return bytes(head) + key + _mask(payload, key)


def _mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return b""
    repeated = (key * (len(payload) // 4 + 1))[:len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(payload), "big")


class RawWebSocket:
    """One client connection; every call is bounded by ``timeout``."""

    def __init__(self, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, timeout: float) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self.closed = False

    @classmethod
    async def connect(cls, host: str, port: int, path: str,
                      timeout: float) -> RawWebSocket:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n")
        ws = cls(reader, writer, timeout)
        try:
            writer.write(request.encode())
            head = await asyncio.wait_for(
                reader.readuntil(b"\r\n\r\n"), timeout)
        except BaseException:
            ws.abort()
            raise
        if len(head) > MAX_HEAD:
            ws.abort()
            raise HandshakeRefused(0)
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            ws.abort()
            raise HandshakeRefused(status)
        return ws

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), self.timeout)

    async def send_frame(self, opcode: int, payload: bytes, **options: object) -> None:
        await self.send_raw(frame(opcode, payload, **options))  # type: ignore[arg-type]

    async def send_text(self, text: str) -> None:
        await self.send_frame(TEXT, encode_text(text))

    async def send_binary(self, data: bytes) -> None:
        await self.send_frame(BINARY, data)

    async def send_fragmented(self, opcode: int, payload: bytes, pieces: int) -> None:
        """``payload`` split over ``pieces`` frames (first, continuations)."""
        step = max(1, len(payload) // max(1, pieces))
        chunks = [payload[i:i + step] for i in range(0, len(payload), step)] or [b""]
        for index, chunk in enumerate(chunks):
            await self.send_frame(opcode if index == 0 else CONTINUATION, chunk,
                                  fin=index == len(chunks) - 1)

    async def receive(self) -> Message | None:
        """The next data or close message; None once the server has closed
        the TCP connection. Pings are answered on the way."""
        fragments: list[bytes] = []
        first_opcode = None
        while True:
            opcode, fin, data = await self._read_frame()
            if opcode is None:
                self.closed = True
                return None
            if opcode == PING:
                await self.send_frame(PONG, data)
                continue
            if opcode == PONG:
                continue
            if opcode == CLOSE:
                self.closed = True
                return Message(CLOSE, data)
            if opcode != CONTINUATION:
                first_opcode, fragments = opcode, []
            fragments.append(data)
            if fin:
                return Message(first_opcode or opcode, b"".join(fragments))

    async def _read_frame(self) -> tuple[int | None, bool, bytes]:
        try:
            head = await self.reader.readexactly(2)
            length = head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            if length > MAX_READ:
                return None, True, b""
            key = await self.reader.readexactly(4) if head[1] & 0x80 else None
            data = await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return None, True, b""
        if key is not None:
            data = _mask(data, key)
        return head[0] & 0x0F, bool(head[0] & 0x80), data

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        self.closed = True
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()
