"""A bare WebSocket client for engine.io: exact frames, nothing checked.

Tests that must send what no real client would (binary, empty, oversized
or unmasked frames) use it; it also reads the server's frames one by one.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from typing import Any
from urllib.parse import urlsplit

TIMEOUT = 5.0


class RawWebSocket:
    """One engine.io WebSocket session, driven frame by frame."""

    def __init__(self, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.sid = ""

    @classmethod
    async def open(cls, url: str, *, path: str = "/socket.io/") -> RawWebSocket:
        """Connect, upgrade and read the engine.io OPEN packet."""
        parts = urlsplit(url)
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            parts.hostname, parts.port), TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((
            f"GET {path}?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode(errors="replace"))
        sock = cls(reader, writer)
        opcode, payload = await sock.frame()
        assert opcode == 1 and payload[:1] == b"0", payload
        sock.sid = json.loads(payload[1:])["sid"]
        return sock

    def send_frame(self, opcode: int, payload: bytes, *, fin: bool = True,
                   masked: bool = True) -> None:
        """Write one frame exactly as described."""
        head = bytes([(0x80 if fin else 0) | opcode])
        size = len(payload)
        mask_bit = 0x80 if masked else 0
        if size < 126:
            head += bytes([mask_bit | size])
        elif size < 65536:
            head += bytes([mask_bit | 126]) + struct.pack("!H", size)
        else:
            head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
        if masked:
            mask = os.urandom(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            head += mask
        self.writer.write(head + payload)

    def send_text(self, text: str) -> None:
        self.send_frame(1, text.encode())

    async def connect_namespace(self, namespace: str, token: str) -> None:
        self.send_text(f"40{namespace},{json.dumps({'token': token})}")
        packet = await self.packet()
        assert packet.startswith(f"40{namespace},"), packet

    async def frame(self, timeout: float = TIMEOUT) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload)."""
        async def read() -> tuple[int, bytes]:
            first, second = await self.reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            return first & 0x0F, await self.reader.readexactly(size)
        return await asyncio.wait_for(read(), timeout)

    async def packet(self, timeout: float = TIMEOUT) -> str:
        """The next engine.io text packet, answering pings on the way."""
        while True:
            opcode, payload = await self.frame(timeout)
            if opcode == 8:
                raise ConnectionError(f"closed: {close_reason(payload)}")
            text = payload.decode()
            if text == "2":
                self.send_text("3")
                continue
            return text

    async def closed(self, timeout: float = TIMEOUT) -> tuple[int, str]:
        """Read until the server's close frame; its (code, reason)."""
        while True:
            try:
                opcode, payload = await self.frame(timeout)
            except asyncio.IncompleteReadError:
                return 1006, ""
            if opcode == 8:
                return close_reason(payload)

    async def aclose(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


def close_reason(payload: bytes) -> tuple[int, str]:
    if len(payload) < 2:
        return 1005, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode(errors="replace")


def event(namespace: str, ack_id: int | None, *args: Any) -> str:
    """An engine.io MESSAGE carrying a Socket.IO EVENT."""
    return f"42{namespace},{'' if ack_id is None else ack_id}{json.dumps(list(args))}"
