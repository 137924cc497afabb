"""``ChatioSocket``: one engine.io session, on long-polling or WebSocket.

python-engineio's socket sends every packet through a queue drained by a
writer task, and answers a bad long-poll POST only once a GET drained that
queue. This one:

- on WebSocket, writes each packet to the connection at once, in the order
  the node produces them (acks, broadcasts, pings), with no task; a
  broadcast hands over a prebuilt frame (``deliver``);
- on long-polling, queues packets for the next GET, bounded in bytes;
- answers every POST at once: a packet the protocol forbids ends the
  session with a documented code (``TransportError``);
- closes the session the moment its connection is lost or breaks the
  protocol, so no session outlives its connection;
- drops a client that stops reading once ``max_buffered`` bytes wait for it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from engineio import exceptions
from engineio import packet as eio
from engineio.async_socket import AsyncSocket

from . import websocket as ws
from .websocket import WebSocketConnection

if TYPE_CHECKING:
    from .engine import ChatioEngine

log = logging.getLogger(__name__)

# Codes a session is closed with, reported in the close frame of a
# WebSocket or the body of the 400 answering a long-poll request.
PROTOCOL_ERROR = "PROTOCOL_ERROR"
BINARY_UNSUPPORTED = "BINARY_UNSUPPORTED"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
SLOW_CONSUMER = "SLOW_CONSUMER"

_NOOP = eio.Packet(eio.NOOP)
# How often a pending long-poll checks that its client is still there: a
# client that went away ends its session within about this long.
POLL_CHECK_INTERVAL = 1.0


class TransportError(Exception):
    """A request that ended its session; ``code`` is documented."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class ChatioSocket(AsyncSocket):
    """An engine.io session whose WebSocket writes go straight out."""

    # Connection state recovery's per-session state. Class defaults, set on
    # a session only once they change, so an idle session stays small.
    # The journal stamp when the last ping was sent, and the stamp the
    # client confirmed having by answering a ping:
    _ping_stamp = 0
    confirmed_stamp = 0
    # Its /chat socket asked for messages without the offset argument:
    plain = False
    # While a recovering socket is replayed to, what else the node sends
    # it waits here, in order; after that, for a while, broadcasts pass
    # ``_screen`` first:
    held: list[tuple[bytes | None, eio.Packet]] | None = None
    _screen: tuple[Callable[[eio.Packet], bool], float] | None = None
    # Whether ``close`` ran the session's disconnect handlers, and who
    # waits for it (made only when someone does):
    _ended = False
    _ended_event: asyncio.Event | None = None

    def __init__(self, server: ChatioEngine, sid: str) -> None:
        super().__init__(server, sid)
        self.server: ChatioEngine = server
        self.ws: WebSocketConnection | None = None
        # The connection being upgraded to, until the client's UPGRADE.
        self._probe: WebSocketConnection | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._queued_bytes = 0
        self._polling = False
        self.close_code: str | None = None

    # -- output ------------------------------------------------------------

    async def send(self, pkt: eio.Packet) -> None:
        self.send_now(pkt)

    def send_now(self, pkt: eio.Packet) -> None:
        """Send or queue ``pkt`` without waiting."""
        if self.held is not None:
            self.held.append((None, pkt))
            return
        self.send_direct(pkt)

    def send_direct(self, pkt: eio.Packet) -> None:
        """``send_now``, ahead of anything held."""
        if self.closed:
            return
        conn = self.ws
        if conn is not None:
            conn.send_text(pkt.encode())
        else:
            self._enqueue(pkt, len(pkt.data) if isinstance(pkt.data, str) else 16)

    def deliver(self, frame: bytes, pkt: eio.Packet) -> None:
        """Send a broadcast: ``frame`` is ``pkt`` as a WebSocket frame."""
        if self.closed:
            return
        if self.held is not None:
            self.held.append((frame, pkt))
            return
        if self._screen is not None and not self._screened(pkt):
            return
        conn = self.ws
        if conn is not None:
            conn.write(frame)
        else:
            self._enqueue(pkt, len(frame))

    def hold(self) -> None:
        """Keep what the node sends from now on until ``release``."""
        if self.held is None:
            self.held = []

    def release(self, keep: Callable[[eio.Packet], bool]) -> None:
        """Send what was held, in order, but the packets ``keep`` refuses."""
        held, self.held = self.held or [], None
        for frame, pkt in held:
            if not keep(pkt):
                continue
            if frame is None:
                self.send_direct(pkt)
            else:
                self.deliver(frame, pkt)

    def screen(self, keep: Callable[[eio.Packet], bool],
               seconds: float) -> None:
        """For ``seconds``, deliver only the broadcasts ``keep`` accepts."""
        self._screen = (keep, time.monotonic() + seconds)

    def _screened(self, pkt: eio.Packet) -> bool:
        assert self._screen is not None
        keep, until = self._screen
        if time.monotonic() > until:
            self._screen = None
            return True
        return keep(pkt)

    def lagging(self, limit: int) -> bool:
        """Whether more than ``limit`` bytes wait for this client."""
        conn = self.ws
        if conn is not None:
            return conn.buffered() > limit
        return self._queued_bytes > limit

    def _enqueue(self, pkt: eio.Packet, size: int) -> None:
        self.queue.put_nowait(pkt)
        self._queued_bytes += size
        if self._queued_bytes > self.server.max_buffered:
            self._drop(SLOW_CONSUMER, "long-poll queue over the limit")

    async def poll(self, request: web.BaseRequest | None = None
                   ) -> list[eio.Packet]:
        """Wait for packets; ``QueueEmpty`` when none came within the
        heartbeat or the client closed the request's connection."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.server.ping_interval + self.server.ping_timeout
        while True:
            wait = min(POLL_CHECK_INTERVAL, deadline - loop.time())
            try:
                first = await asyncio.wait_for(self.queue.get(), max(wait, 0))
                break
            except asyncio.TimeoutError:
                gone = request is not None and (
                    request.transport is None or request.transport.is_closing())
                if gone or loop.time() >= deadline:
                    raise exceptions.QueueEmpty() from None
        self.queue.task_done()
        packets = [first] if first is not None else []
        while first is not None and not self.queue.empty():
            pkt = self.queue.get_nowait()
            self.queue.task_done()
            if pkt is None:
                self.queue.put_nowait(None)
                break
            packets.append(pkt)
        if self.queue.empty():
            self._queued_bytes = 0
        return packets

    # -- heartbeat ---------------------------------------------------------

    def schedule_ping(self) -> None:
        # A timer rather than python-engineio's sleeping task per socket.
        if self.last_ping:
            # The pong: the client has what was sent before the ping.
            self.confirmed_stamp = self._ping_stamp
            self.last_ping = None
            self._ping_timer = asyncio.get_running_loop().call_later(
                self.server.ping_interval, self._ping)

    def _ping(self) -> None:
        self._ping_timer = None
        if not self.closing and not self.closed:
            journal = self.server.journal
            if journal is not None:
                self._ping_stamp = journal.stamp
            self.last_ping = time.time()
            self.send_now(eio.Packet(eio.PING))

    # -- input ---------------------------------------------------------------

    def on_text(self, conn: WebSocketConnection, text: str) -> None:
        """One engine.io packet from a WebSocket of this session."""
        if conn is not self.ws:
            return self._upgrade_step(conn, text)
        kind = text[:1]
        try:
            if kind == "4":
                wait = self.server.receive(self.sid, text[1:])
                if wait is not None and self.ws is not None:
                    conn = self.ws
                    conn.pause_reading()
                    wait.add_done_callback(lambda _: conn.resume_reading())
            elif kind == "3":
                self.schedule_ping()
            elif kind == "1":
                self._close_soon(self.server.reason.CLIENT_DISCONNECT)
            elif kind != "6":
                self.fail(PROTOCOL_ERROR, f"engine.io packet type {kind!r}")
        except Exception:
            log.exception("handling a WebSocket packet failed")
            self.fail(PROTOCOL_ERROR, "the packet could not be handled")
        return None

    async def handle_post_request(self, environ: dict[str, Any]) -> None:
        """Run the packets of a long-poll POST; ``TransportError`` if one
        ended the session."""
        request: web.BaseRequest = environ["aiohttp.request"]
        body = await _read_body(request, self.server.max_http_buffer_size)
        if body is None:
            raise self.fail(PAYLOAD_TOO_LARGE, "POST body over the limit")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(PROTOCOL_ERROR, "POST body is not UTF-8") from None
        for record in text.split("\x1e"):
            kind = record[:1]
            if kind == "4":
                wait = self.server.receive(self.sid, record[1:])
                if wait is not None:
                    await wait
            elif kind == "3":
                self.schedule_ping()
            elif kind == "1":
                await self.close(wait=False, abort=True,
                                 reason=self.server.reason.CLIENT_DISCONNECT)
                return
            elif kind == "b":
                raise self.fail(BINARY_UNSUPPORTED,
                                "binary packets are not accepted")
            else:
                raise self.fail(PROTOCOL_ERROR,
                                f"engine.io packet type {kind!r} in a POST")
            if self.close_code is not None or self.closed or self.closing:
                raise TransportError(self.close_code or PROTOCOL_ERROR,
                                     "the session was closed")

    async def handle_get_request(self, environ: dict[str, Any]) -> list[eio.Packet]:
        """Wait for packets for a long-poll GET."""
        if self.upgrading or self.upgraded:
            return [_NOOP]
        if self._polling:
            raise self.fail(PROTOCOL_ERROR, "overlapping long-poll GET")
        self._polling = True
        try:
            return await self.poll(environ.get("aiohttp.request"))
        except Exception:
            await self.close(wait=False,
                             reason=self.server.reason.TRANSPORT_ERROR)
            raise TransportError(PROTOCOL_ERROR, "poll ended") from None
        finally:
            self._polling = False

    # -- WebSocket -----------------------------------------------------------

    async def attach(self, request: web.BaseRequest,
                     environ: dict[str, Any]) -> web.StreamResponse:
        """Take over a direct WebSocket connection for this new session."""
        if self.server.ws_compression:
            return await self._compressed(environ)
        conn = self._connection()
        response = ws.take_over(request, conn, ws.handshake_reply(request.headers))
        self.ws = conn
        self.connected = self.upgraded = True
        self._flush_queue()
        return response

    async def upgrade(self, request: web.BaseRequest,
                      environ: dict[str, Any]) -> web.StreamResponse:
        """Start upgrading this long-polling session to a WebSocket."""
        if self.upgrading or self.upgraded:
            raise TransportError(PROTOCOL_ERROR, "already upgraded")
        if self.server.ws_compression:
            return await self._compressed(environ)
        reply = ws.handshake_reply(request.headers)
        conn = self._probe = self._connection()
        self.upgrading = True
        return ws.take_over(request, conn, reply)

    async def _compressed(self, environ: dict[str, Any]) -> web.StreamResponse:
        # permessage-deflate compresses per recipient: python-engineio's
        # WebSocket (aiohttp's, with a writer task) carries this session,
        # and broadcasts reach it through the queue.
        response: web.StreamResponse = await self._upgrade_websocket(environ)
        if self.closed:
            self.server.sockets.pop(self.sid, None)
        return response

    def _connection(self) -> WebSocketConnection:
        handler = _Handler(self)
        handler.conn = WebSocketConnection(
            handler, max_message=self.server.max_http_buffer_size,
            max_buffered=self.server.max_buffered)
        return handler.conn

    def _upgrade_step(self, conn: WebSocketConnection, text: str) -> None:
        if conn is not self._probe:
            return
        if text == "2probe":
            conn.send_text("3probe")
            self.queue.put_nowait(_NOOP)  # ends the pending long-poll
        elif text == "5":
            self._probe = None
            self.ws = conn
            self.upgraded, self.upgrading = True, False
            self._flush_queue()
        else:
            self.fail(PROTOCOL_ERROR, "unexpected packet during upgrade")

    def _flush_queue(self) -> None:
        conn = self.ws
        assert conn is not None
        while not self.queue.empty():
            pkt = self.queue.get_nowait()
            self.queue.task_done()
            if pkt is not None and pkt.packet_type != eio.NOOP:
                conn.send_text(pkt.encode())
        self._queued_bytes = 0

    def connection_closed(self, conn: WebSocketConnection) -> None:
        if conn is self._probe:
            self._probe = None
            self.upgrading = False
        elif conn is self.ws:
            self._close_soon(self.server.reason.TRANSPORT_CLOSE)

    # -- ending ------------------------------------------------------------

    async def wait_ended(self) -> None:
        """Return once a ``close`` under way ran the disconnect handlers."""
        if self._ended:
            return
        if self._ended_event is None:
            self._ended_event = asyncio.Event()
        await self._ended_event.wait()

    def fail(self, code: str, reason: str) -> TransportError:
        """End the session for breaking the protocol; the error to raise."""
        self.server.protocol_violation(self.sid, code, reason)
        if self.close_code is None:
            self.close_code = code
        for conn in (self.ws, self._probe):
            if conn is not None:
                conn.close(ws.POLICY_VIOLATION if code != BINARY_UNSUPPORTED
                           else ws.UNSUPPORTED_DATA, code)
        # A pending long-poll gets the CLOSE packet.
        self._close_soon(self.server.reason.TRANSPORT_ERROR, abort=False)
        return TransportError(code, reason)

    def _drop(self, code: str, reason: str) -> None:
        if self.close_code is None:
            self.close_code = code
        self.server.dropped(self.sid, code, reason)
        for conn in (self.ws, self._probe):
            if conn is not None:
                conn.abort()
        # Nothing queued for it will be read: let a waiting poll end.
        self.queue.put_nowait(None)
        self._close_soon(self.server.reason.TRANSPORT_ERROR)

    def _close_soon(self, reason: Any, abort: bool = True) -> None:
        if self.closing or self.closed:
            return
        self.server.run_soon(self.close(wait=False, abort=abort, reason=reason))

    async def close(self, wait: bool = True, abort: bool = False,
                    reason: Any = None) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        was_open = not self.closed and not self.closing
        try:
            await super().close(wait=False, abort=abort, reason=reason)
        finally:
            if was_open:
                self._ended = True
                if self._ended_event is not None:
                    self._ended_event.set()
        conn = self.ws
        if conn is not None:
            conn.close()
        else:
            # Ends a pending long-poll: after the CLOSE packet, or at once.
            self.queue.put_nowait(None)
        # A pending long-poll still gets the CLOSE packet; without one the
        # session goes now rather than when the heartbeat check finds it.
        if was_open and (conn is not None or not self._polling):
            self.server.sockets.pop(self.sid, None)
        if wait and conn is None:
            try:
                await asyncio.wait_for(self.queue.join(),
                                       self.server.ping_timeout)
            except asyncio.TimeoutError:
                pass


class _Handler:
    """Routes one connection's frames to its socket: the connection may be
    the live one or the probe of an upgrade."""

    __slots__ = ("socket", "conn")

    def __init__(self, socket: ChatioSocket) -> None:
        self.socket = socket
        self.conn: WebSocketConnection | None = None

    def on_text(self, text: str) -> None:
        assert self.conn is not None
        self.socket.on_text(self.conn, text)

    def on_violation(self, error: str, reason: str) -> None:
        self.socket.fail(error, reason)

    def on_overflow(self) -> None:
        self.socket._drop(SLOW_CONSUMER, "the client stopped reading")

    def on_closed(self) -> None:
        assert self.conn is not None
        self.socket.connection_closed(self.conn)


async def _read_body(request: web.BaseRequest, limit: int) -> bytes | None:
    """The request body, or None when it is longer than ``limit``."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)

