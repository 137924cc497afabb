"""``ChatioServer``: python-socketio's AsyncServer with chatio's guarantees.

- Events from one socket run one at a time, in arrival order, while sockets
  run concurrently; a socket with a deep backlog is read no further until it
  drains (stock ``async_handlers=True`` runs each event as its own
  task, so a ``join`` could lose the race against the ``message`` after it).
- Hostile packets (reserved or non-string event names, wrong argument
  counts) never reach a handler raw: they get ``UNKNOWN_EVENT`` or
  ``INVALID_PAYLOAD`` and the socket carries on.
- A long-poll POST may carry any number of packets within the size limit.
- A repeated CONNECT for a namespace the connection already joined is
  confirmed, not refused.
- Every event is acked with its result; without an ack id a failure is
  emitted as ``chatio_error``.
- ``drop_transports()`` closes every client's transport without a protocol
  goodbye, so the official clients reconnect at once.
- ``metrics`` (a ``Metrics``) counts every handled event, and the connected
  sockets of each registered namespace.

It overrides ``_handle_connect``, ``_handle_event``, ``_handle_disconnect`` and
``_handle_eio_disconnect``, which is why setup.cfg pins python-socketio's
minor version.
"""
from __future__ import annotations

import logging
from typing import Any

import engineio.payload
import socketio
from socketio import packet

from . import constants as c
from .errors import UnknownEvent, failure
from .lanes import SerialLanes
from .metrics import Metrics
from .namespaces.base import EventNamespace

log = logging.getLogger(__name__)

# Events a socket may have waiting before reading from its connection pauses
# until they ran: backpressure instead of an unbounded queue.
MAX_EVENT_BACKLOG = 64


class ChatioServer(socketio.AsyncServer):
    """An ``AsyncServer`` that dispatches to ``EventNamespace`` handlers."""

    def __init__(self, *, metrics: Metrics | None = None,
                 **kwargs: Any) -> None:
        # Set first: the base class hands this server to the client manager,
        # which records Redis failures through it in cluster mode.
        self.metrics = metrics if metrics is not None else Metrics()
        super().__init__(async_mode="aiohttp", **kwargs)
        self.lanes = SerialLanes()
        # python-engineio drops (and answers 200 to) a long-poll POST of more
        # than 16 packets, which socket.io-client sends for a burst of emits.
        # The POST's size is already bounded by max_http_buffer_size.
        engineio.payload.Payload.max_decode_packets = max(
            engineio.payload.Payload.max_decode_packets,
            self.eio.max_http_buffer_size)

    def register_namespace(self, namespace_handler: Any) -> None:
        super().register_namespace(namespace_handler)
        if isinstance(namespace_handler, EventNamespace):
            sessions = namespace_handler.sessions
            self.metrics.count_sockets(namespace_handler.namespace,
                                       lambda: len(sessions))

    async def _handle_connect(self, eio_sid: str, namespace: str | None,
                              data: Any) -> None:
        # socket.io-client sends CONNECT twice when ``connect()`` is called
        # on a Manager socket that already auto-connected. Stock
        # python-socketio answers the second with CONNECT_ERROR, and the
        # client then destroys the socket it believes is connected. Confirm
        # the existing socket instead, as the Node.js server does.
        name = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, name)
        if sid is not None and self.manager.is_connected(sid, name):
            await self._send_packet(eio_sid, self.packet_class(
                packet.CONNECT, {"sid": sid}, namespace=name))
            return
        await super()._handle_connect(eio_sid, namespace, data)

    async def _handle_event(self, eio_sid: str, namespace: str | None,
                            id: int | None, data: Any) -> None:
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):
            return
        handler = self.namespace_handlers.get(namespace)
        if not isinstance(handler, EventNamespace):
            return
        self.lanes.submit(sid, lambda: self._run_event(
            handler, sid, eio_sid, namespace, id, data))
        if self.lanes.backlog(sid) >= MAX_EVENT_BACKLOG:
            # This runs in the connection's read loop: waiting here stops
            # reading from a client that sends faster than it is served.
            await self.lanes.wait_idle(sid)

    async def _run_event(self, handler: EventNamespace, sid: str, eio_sid: str,
                         namespace: str, ack_id: int | None, data: Any) -> None:
        event, args = _split_event(data)
        if event is None or event in c.RESERVED_EVENTS:
            result = failure(UnknownEvent())
        else:
            result = await handler.dispatch(sid, event, args)
        self.metrics.event_handled(namespace, event, result)
        if ack_id is not None:
            await self._send_packet(eio_sid, self.packet_class(
                packet.ACK, namespace=namespace, id=ack_id, data=[result]))
        elif not result["ok"] and handler.reports(event, result):
            await self.emit(c.EVENT_CHATIO_ERROR, {
                "event": event if isinstance(event, str) else None,
                "error": result["error"],
            }, to=sid, namespace=namespace)

    async def _handle_disconnect(self, eio_sid: str, namespace: str | None,
                                 reason: Any = None) -> None:
        # Events the socket sent before it went away run before its
        # disconnect handler, so nothing it sent is lost or reordered.
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
        if sid is not None:
            await self.lanes.wait_idle(sid)
        await super()._handle_disconnect(eio_sid, namespace, reason)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        await super()._handle_eio_disconnect(eio_sid, reason)
        if reason == self.reason.CLIENT_DISCONNECT:
            # The client's engine.io CLOSE aborts the socket without waking
            # its pending long-poll, which would then hold a request (and
            # the client's read loop) until the ping timeout. No CLOSE packet
            # of ours follows in this case, so release the poll now.
            sock = self.eio.sockets.get(eio_sid)
            if sock is not None:
                sock.queue.put_nowait(None)

    async def drop_transports(self) -> int:
        """Close every client's transport abruptly; returns how many."""
        sockets = list(self.eio.sockets.items())
        for eio_sid, sock in sockets:
            try:
                await sock.close(wait=False, abort=True,
                                 reason=self.reason.SERVER_DISCONNECT)
                # Ends a websocket writer (which then closes the socket) or
                # a pending long-poll.
                sock.queue.put_nowait(None)
            except Exception:
                log.exception("closing a transport failed")
            self.eio.sockets.pop(eio_sid, None)
        return len(sockets)


def _split_event(data: Any) -> tuple[str | None, list[Any]]:
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return None, []
    return data[0], data[1:]
