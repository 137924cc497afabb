"""A server-side WebSocket (RFC 6455) that owns its TCP connection.

aiohttp answers the HTTP request; ``take_over`` then writes the 101 reply
itself and moves the connection to a ``WebSocketConnection``: one small
protocol object per client, with no task, no reader queue and no writer
lock. Frames are written straight to the transport, so a fan-out can build
a frame once (``text_frame``) and hand the same bytes to every recipient.

Only what Socket.IO needs is accepted: text messages (possibly fragmented),
ping, pong and close. Binary frames, extensions, unmasked frames and
messages over the size limit end the connection with a close code.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Mapping
from typing import Protocol

from aiohttp import web

try:
    from aiohttp._websocket.helpers import websocket_mask as _mask
except ImportError:  # pragma: no cover - aiohttp without its helpers
    _mask = None

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

# Close codes (RFC 6455, 7.4.1).
NORMAL = 1000
GOING_AWAY = 1001
PROTOCOL_VIOLATION = 1002
UNSUPPORTED_DATA = 1003
INVALID_TEXT = 1007
POLICY_VIOLATION = 1008
TOO_BIG = 1009


class HandshakeError(ValueError):
    """The request is not a valid WebSocket upgrade."""


class FrameHandler(Protocol):
    """What a connection reports to the engine.io socket above it."""

    def on_text(self, text: str) -> None: ...

    def on_violation(self, error: str, reason: str) -> None: ...

    def on_overflow(self) -> None: ...

    def on_closed(self) -> None: ...


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1(key.encode("ascii") + GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def handshake_reply(headers: Mapping[str, str]) -> bytes:
    """The 101 response to an upgrade request; ``HandshakeError`` if the
    request is not one."""
    if headers.get("Upgrade", "").lower() != "websocket":
        raise HandshakeError("not a WebSocket upgrade")
    if "upgrade" not in headers.get("Connection", "").lower():
        raise HandshakeError("Connection header lacks upgrade")
    if headers.get("Sec-WebSocket-Version", "") != "13":
        raise HandshakeError("unsupported WebSocket version")
    key = headers.get("Sec-WebSocket-Key", "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except ValueError:
        raise HandshakeError("bad Sec-WebSocket-Key") from None
    return (b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(key).encode("ascii")
            + b"\r\n\r\n")


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final text frame carrying ``payload`` (UTF-8)."""
    return _frame(OP_TEXT, payload)


def _frame(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    first = 0x80 | opcode
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return bytes((first, 126)) + size.to_bytes(2, "big") + payload
    return bytes((first, 127)) + size.to_bytes(8, "big") + payload


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame; the reason is cut to fit a control frame."""
    return _frame(OP_CLOSE, code.to_bytes(2, "big")
                  + reason.encode("utf-8")[:123])


def _unmask(mask: bytes, payload: bytearray) -> bytes:
    if _mask is not None:
        _mask(mask, payload)
        return bytes(payload)
    size = len(payload)
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")


class HijackedResponse(web.StreamResponse):
    """What the request handler returns once the connection was taken over:
    aiohttp writes nothing for it, since the 101 reply was written already."""

    def __init__(self) -> None:
        super().__init__(status=101)

    async def prepare(self, request: web.BaseRequest) -> None:  # type: ignore[override]
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


def take_over(request: web.BaseRequest, connection: WebSocketConnection,
              reply: bytes) -> HijackedResponse:
    """Write ``reply`` and move the request's TCP connection to
    ``connection``; aiohttp forgets it. Return the result to aiohttp."""
    http = request.protocol
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("the client went away")
    # Bytes the client sent after the upgrade request (frames written
    # before it read our 101) were kept by aiohttp for a parser.
    tail = bytes(getattr(http, "_message_tail", b"") or b"")
    transport.write(reply)
    transport.set_protocol(connection)
    # Detach aiohttp's protocol without closing the transport: with no
    # transport it neither writes nor closes; connection_lost removes it
    # from the server's connection list and ends its request loop.
    http.transport = None
    http.connection_lost(None)
    connection.connection_made(transport)
    transport.resume_reading()
    if tail:
        connection.data_received(tail)
    return HijackedResponse()


class WebSocketConnection(asyncio.Protocol):
    """One client's WebSocket after the handshake."""

    __slots__ = ("transport", "handler", "_max_message", "_max_buffered",
                 "_pending", "_fragments", "_done", "_reading")

    def __init__(self, handler: FrameHandler, *, max_message: int,
                 max_buffered: int) -> None:
        self.transport: asyncio.Transport | None = None
        self.handler = handler
        self._max_message = max_message
        self._max_buffered = max_buffered
        self._pending: bytes = b""
        self._fragments: bytearray | None = None
        self._done = False
        self._reading = True

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        # pause_writing() fires as soon as a write leaves more than this
        # unsent: the client is not reading.
        transport.set_write_buffer_limits(high=self._max_buffered)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._done = True
        self._pending = b""
        self._fragments = None
        self.handler.on_closed()

    def pause_writing(self) -> None:
        if not self._done:
            self.handler.on_overflow()

    def resume_writing(self) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        if self._pending:
            data = self._pending + data
            self._pending = b""
        size = len(data)
        at = 0
        while not self._done and size - at >= 2:
            first, second = data[at], data[at + 1]
            length = second & 0x7F
            head = 2
            if length == 126:
                if size - at < 4:
                    break
                length = int.from_bytes(data[at + 2:at + 4], "big")
                head = 4
            elif length == 127:
                if size - at < 10:
                    break
                length = int.from_bytes(data[at + 2:at + 10], "big")
                head = 10
            if first & 0x70:
                return self.fail(PROTOCOL_VIOLATION, "PROTOCOL_ERROR",
                                 "no extension was negotiated")
            if not second & 0x80:
                return self.fail(PROTOCOL_VIOLATION, "PROTOCOL_ERROR",
                                 "client frames must be masked")
            if length > self._max_message:
                return self.fail(TOO_BIG, "PAYLOAD_TOO_LARGE",
                                 "message over the size limit")
            end = at + head + 4 + length
            if size < end:
                break
            mask = data[at + head:at + head + 4]
            payload = _unmask(mask, bytearray(data[at + head + 4:end]))
            at = end
            self._frame(first & 0x80, first & 0x0F, payload)
        if not self._done and at < size:
            self._pending = data[at:]

    # -- writing ---------------------------------------------------------------

    def write(self, frame: bytes) -> None:
        """Queue a prebuilt frame; it is written in call order."""
        transport = self.transport
        if transport is not None and not self._done:
            transport.write(frame)

    def send_text(self, text: str) -> None:
        self.write(text_frame(text.encode("utf-8")))

    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def pause_reading(self) -> None:
        if self._reading and self.transport is not None:
            self._reading = False
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self._reading and self.transport is not None and not self._done:
            self._reading = True
            self.transport.resume_reading()

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Say goodbye after what was written already, then close."""
        transport = self.transport
        self._done = True
        if transport is not None and not transport.is_closing():
            transport.write(close_frame(code, reason))
            transport.close()

    def abort(self) -> None:
        """Drop the connection and whatever it had not sent yet."""
        self._done = True
        if self.transport is not None:
            self.transport.abort()

    def fail(self, code: int, error: str, reason: str) -> None:
        """End the connection for breaking the protocol: the close frame
        carries ``error`` (a documented code), the handler hears why."""
        if self._done:
            return
        self.close(code, error)
        self.handler.on_violation(error, reason)

    # -- frames ----------------------------------------------------------------

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode >= OP_CLOSE:
            if not fin or len(payload) > 125:
                return self.fail(PROTOCOL_VIOLATION, "PROTOCOL_ERROR",
                                 "bad control frame")
            if opcode == OP_PING:
                self.write(_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                code = (int.from_bytes(payload[:2], "big")
                        if len(payload) >= 2 else NORMAL)
                self.close(code if 1000 <= code < 5000 else NORMAL)
            elif opcode != OP_PONG:
                return self.fail(PROTOCOL_VIOLATION, "PROTOCOL_ERROR",
                                 "unknown opcode")
            return None
        if opcode == OP_BINARY:
            return self.fail(UNSUPPORTED_DATA, "BINARY_UNSUPPORTED",
                             "binary messages are not accepted")
        if opcode == OP_TEXT:
            if self._fragments is not None:
                return self.fail(PROTOCOL_VIOLATION, "PROTOCOL_ERROR",
                                 "new message inside a fragmented one")
            if not fin:
                self._fragments = bytearray(payload)
                return None
        elif opcode == OP_CONTINUATION:
            if self._fragments is None:
                return self.fail(PROTOCOL_VIOLATION, "PROTOCOL_ERROR",
                                 "continuation without a message")
            if len(self._fragments) + len(payload) > self._max_message:
                return self.fail(TOO_BIG, "PAYLOAD_TOO_LARGE",
                                 "message over the size limit")
            self._fragments += payload
            if not fin:
                return None
            payload, self._fragments = bytes(self._fragments), None
        else:
            return self.fail(PROTOCOL_VIOLATION, "PROTOCOL_ERROR",
                             "unknown opcode")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            return self.fail(INVALID_TEXT, "PROTOCOL_ERROR",
                             "text message is not UTF-8")
        self.handler.on_text(text)
        return None
