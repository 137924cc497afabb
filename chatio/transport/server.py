"""``ChatioServer``: python-socketio's AsyncServer with chatio's guarantees.

- Packets are decoded by ``wire.decode`` (strict, bounded, no binary) in
  the connection's read callback, with no task per packet.
- Events from one socket run one at a time, in arrival order, while sockets
  run concurrently; a socket with a deep backlog is read no further until it
  drains. A connection's CONNECT, DISCONNECT and ACK packets run in order
  with its events.
- Hostile packets never reach a handler raw: a bad event gets
  ``UNKNOWN_EVENT`` or ``INVALID_PAYLOAD`` and the socket carries on; a
  packet that breaks the protocol ends the connection with a documented
  code. Each is counted, and logged at most once a minute per code.
- A repeated CONNECT for a namespace the connection already joined is
  confirmed, not refused; an unknown namespace is refused with a code.
- Every event is acked with its result; without an ack id a failure is
  emitted as ``chatio_error``.
- ``drop_transports()`` closes every client's transport without a protocol
  goodbye, so the official clients reconnect at once.
- ``instrument()`` serves the Socket.IO Admin UI (``admin``); until it is
  called, the hooks it uses (``observer``, plain namespaces) cost a check
  of ``None`` per event and nothing per recipient.

It overrides python-socketio's ``_handle_*`` dispatch, which is why setup.cfg
pins its minor version; ``tests/unit/test_transport_internals.py`` covers
what it relies on.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from .. import constants as c
from ..errors import InvalidPayload, UnknownEvent, failure
from ..tokens import TokenError
from ..metrics import Metrics
from ..namespaces.base import EventNamespace
from . import jsonlib, wire
from ..log_limits import LogLimiter
from .engine import ChatioEngine, Origins
from .delivery import FrameDelivery
from .lanes import SerialLanes
from .journal import DeliveryJournal
from .namespace import SocketIONamespace
from .recovering import (JOURNAL_MARGIN, Reconnections, Recovery,
                         split_connect_data)

if TYPE_CHECKING:
    from .admin import AdminUI

log = logging.getLogger(__name__)

# Events a socket may have waiting before reading from its connection pauses
# until they ran: backpressure instead of an unbounded queue.
MAX_EVENT_BACKLOG = 64


class EventObserver(Protocol):
    """Hears every client event before its handler runs."""

    def event_received(self, namespace: str, sid: str, data: Any) -> None: ...


class ChatioServer(socketio.AsyncServer):
    """An ``AsyncServer`` that dispatches to ``EventNamespace`` handlers
    (``add_namespace``).

    ``manager`` delivers emits; ``allowed_origins(request)`` decides which
    browser origins may connect; ``max_payload`` bounds one packet and
    ``max_buffered`` one socket's unsent output, in bytes.
    """

    def __init__(self, *, metrics: Metrics, manager: FrameDelivery,
                 allowed_origins: Origins, max_payload: int,
                 max_buffered: int, ping_interval: float, ping_timeout: float,
                 ws_compression: bool = False,
                 recovery: Recovery | None = None) -> None:
        self.metrics = metrics
        self._engine_options = {"max_buffered": max_buffered,
                                "ws_compression": ws_compression,
                                "allowed_origins": allowed_origins}
        super().__init__(
            async_mode="aiohttp", json=jsonlib, async_handlers=False,
            client_manager=manager,
            # Origins are decided by ``allowed_origins``; None only keeps
            # python-engineio's CORS headers on.
            cors_allowed_origins=None, max_http_buffer_size=max_payload,
            ping_interval=ping_interval, ping_timeout=ping_timeout,
            # Unknown namespaces are refused in _handle_connect, with a code.
            namespaces="*",
            # Loggers, not booleans: given False, both libraries add a plain
            # stderr handler of their own beside chatio's JSON logging.
            logger=logging.getLogger("socketio.server"),
            engineio_logger=logging.getLogger("engineio.server"))
        self.lanes = SerialLanes()
        self._event_handlers: dict[str, EventNamespace] = {}
        # Namespaces served by python-socketio's own handlers (``on``).
        self._plain_namespaces: set[str] = set()
        self.observer: EventObserver | None = None
        # Hears each socket an ``EventNamespace`` accepted or recovered.
        self.connect_observer: Callable[[str, str], None] | None = None
        self._hostile_log = LogLimiter(log)
        engine = self.eio
        assert isinstance(engine, ChatioEngine)
        engine.receive = self.receive
        engine.on_violation = self._violation
        engine.on_drop = self._dropped
        metrics.count_sessions(lambda: len(engine.sockets))
        # Connection state recovery (``recovering``), when ``recovery`` is
        # given: pids, offsets on /chat messages, sockets brought back.
        self.reconnections: Reconnections | None = None
        if recovery is not None:
            journal = DeliveryJournal(
                c.CHAT_NAMESPACE, c.EVENT_MESSAGE,
                retention=ping_interval + ping_timeout + JOURNAL_MARGIN)
            manager.journal = engine.journal = journal
            self.reconnections = Reconnections(self, recovery, journal)

    def _engineio_server_class(self) -> Any:
        ours = self._engine_options

        def build(**options: Any) -> ChatioEngine:
            options.pop("async_mode", None)
            return ChatioEngine(**ours, **options)
        return build

    def add_namespace(self, handler: EventNamespace) -> None:
        """Serve ``handler``'s namespace; its sockets are counted."""
        self.register_namespace(SocketIONamespace(handler))
        self._event_handlers[handler.namespace] = handler
        sessions = handler.sessions
        self.metrics.count_sockets(handler.namespace, lambda: len(sessions))

    def handler(self, namespace: str) -> EventNamespace | None:
        """The ``EventNamespace`` serving ``namespace``, if any."""
        return self._event_handlers.get(namespace)

    def serve_plain_namespace(self, namespace: str) -> None:
        """Accept connections to ``namespace``, handled by python-socketio's
        own ``on("connect")`` handler; its events are not dispatched."""
        self._plain_namespaces.add(namespace)

    def instrument(self, auth: Any = None, mode: str = "development",
                   read_only: bool = True, server_id: str | None = None,
                   namespace: str = "/admin",
                   server_stats_interval: float = 2) -> AdminUI:
        """Serve the Socket.IO Admin UI on ``namespace``; ``auth`` is
        ``{"username": ..., "password": ...}``. Read-only: what the UI
        could change (emits, joins) would bypass chatio's services."""
        from .admin import AdminUI
        if not read_only:
            raise ValueError("chatio's Admin UI is read-only")
        if not isinstance(auth, dict):
            raise ValueError("auth must be {'username': ..., 'password': ...}")
        return AdminUI(self, username=auth["username"],
                       password=auth["password"], mode=mode,
                       server_id=server_id, namespace=namespace,
                       server_stats_interval=server_stats_interval)

    # -- inbound -------------------------------------------------------------

    def receive(self, eio_sid: str, text: str) -> asyncio.Future[Any] | None:
        """Take one Socket.IO packet from a connection. Returns a future
        when the connection should not be read until it is done."""
        try:
            pkt = wire.decode(text)
        except wire.ProtocolError as exc:
            return self._refuse_packet(eio_sid, exc)
        if pkt.type == wire.EVENT and not self.lanes.busy(eio_sid):
            return self._submit_event(eio_sid, pkt.namespace, pkt.id, pkt.data)
        self.lanes.submit(eio_sid, lambda: self._run_packet(eio_sid, pkt))
        return None

    async def _run_packet(self, eio_sid: str, pkt: wire.Packet) -> None:
        if pkt.type == wire.EVENT:
            wait = self._submit_event(eio_sid, pkt.namespace, pkt.id, pkt.data)
            if wait is not None:
                await wait
        elif pkt.type == wire.CONNECT:
            await self._handle_connect(eio_sid, pkt.namespace, pkt.data)
        elif pkt.type == wire.DISCONNECT:
            # The client left on purpose: nothing to recover. (A closed
            # transport, even with engine.io's CLOSE, leaves a record.)
            self._forget_pid(eio_sid, pkt.namespace)
            await self._handle_disconnect(eio_sid, pkt.namespace,
                                          self.reason.CLIENT_DISCONNECT)
        # ACK packets are dropped: chatio never asks a client for an ack,
        # and python-socketio logs a warning for every unexpected one.

    def _submit_event(self, eio_sid: str, namespace: str, ack_id: int | None,
                      data: Any, result: dict[str, Any] | None = None
                      ) -> asyncio.Future[Any] | None:
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):
            return None
        handler = self._event_handlers.get(namespace)
        if handler is None:
            return None
        self.lanes.submit(sid, lambda: self._run_event(
            handler, sid, eio_sid, namespace, ack_id, data, result))
        if self.lanes.backlog(sid) >= MAX_EVENT_BACKLOG:
            return self.lanes.idle(sid)
        return None

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if isinstance(data, str):
            wait = self.receive(eio_sid, data)
            if wait is not None:
                await wait

    async def _run_event(self, handler: EventNamespace, sid: str, eio_sid: str,
                         namespace: str, ack_id: int | None, data: Any,
                         result: dict[str, Any] | None) -> None:
        event, args = _split_event(data)
        if result is None:
            if self.observer is not None:
                self.observer.event_received(namespace, sid, data)
            if event is None or event in c.RESERVED_EVENTS:
                result = failure(UnknownEvent())
            else:
                result = await handler.dispatch(sid, event, args)
        self.metrics.event_handled(namespace, event, result)
        if ack_id is not None:
            # Encoded here rather than through python-socketio's Packet,
            # which walks the data looking for binary parts.
            sock = self.eio.sockets.get(eio_sid)
            if sock is not None:
                sock.send_now(eio_packet.Packet(eio_packet.MESSAGE, wire.encode(
                    wire.ACK, namespace, [result], ack_id)))
        elif not result["ok"] and handler.reports(event, result):
            await self.emit(c.EVENT_CHATIO_ERROR, {
                "event": event if isinstance(event, str) else None,
                "error": result["error"],
            }, to=sid, namespace=namespace)

    def _refuse_packet(self, eio_sid: str,
                       exc: wire.ProtocolError) -> asyncio.Future[Any] | None:
        if not exc.fatal and exc.type == wire.ACK:
            self._violation(eio_sid, exc.code, exc.reason)
            return None
        if exc.fatal or exc.type != wire.EVENT:
            sock = self.eio.sockets.get(eio_sid)
            if sock is not None:
                sock.fail(exc.code, exc.reason)
            return None
        self._violation(eio_sid, exc.code, exc.reason)
        answer = failure(InvalidPayload(exc.reason))
        if self.lanes.busy(eio_sid):
            # Behind a CONNECT still running, like any other event.
            async def later() -> None:
                wait = self._submit_event(eio_sid, exc.namespace, exc.id,
                                          None, answer)
                if wait is not None:
                    await wait
            self.lanes.submit(eio_sid, later)
            return None
        return self._submit_event(eio_sid, exc.namespace, exc.id, None, answer)

    # -- connections -----------------------------------------------------------

    async def _handle_connect(self, eio_sid: str, namespace: str | None,
                              data: Any) -> None:
        name = namespace or "/"
        if name not in self._event_handlers and \
                name not in self._plain_namespaces:
            await self._send_packet(eio_sid, self.packet_class(
                sio_packet.CONNECT_ERROR, data={
                    "message": "unknown namespace",
                    "data": {"code": c.UNKNOWN_NAMESPACE}}, namespace=name))
            return
        # socket.io-client sends CONNECT twice when ``connect()`` is called
        # on a Manager socket that already auto-connected. Stock
        # python-socketio answers the second with CONNECT_ERROR, and the
        # client then destroys the socket it believes is connected. Confirm
        # the existing socket instead, as the Node.js server does.
        sid = self.manager.sid_from_eio_sid(eio_sid, name)
        if sid is not None and self.manager.is_connected(sid, name):
            await self._send_packet(eio_sid, self.packet_class(
                sio_packet.CONNECT, {"sid": sid}, namespace=name))
            return
        handler = self._event_handlers.get(name)
        if handler is None:
            await super()._handle_connect(eio_sid, namespace, data)
        else:
            await self._connect(eio_sid, handler, data)

    async def _connect(self, eio_sid: str, handler: EventNamespace,
                       data: Any) -> None:
        name = handler.namespace
        reconnections = self.reconnections
        auth, pid, offset = split_connect_data(data) \
            if reconnections is not None else (data, None, None)
        try:
            identity, address = handler.authenticate(
                self.environ.get(eio_sid, {}), auth)
        except TokenError as exc:
            self.metrics.connection_refused(exc.code)
            await self._send_packet(eio_sid, self.packet_class(
                sio_packet.CONNECT_ERROR, data={
                    "message": c.REFUSAL_MESSAGE, "data": {"code": exc.code}},
                namespace=name))
            return
        if reconnections is not None and pid is not None:
            record = await reconnections.claim(pid, name, identity.user_id)
            if record is not None and await reconnections.resume(
                    eio_sid, handler, identity, address, pid, record, offset):
                if self.connect_observer is not None:
                    self.connect_observer(record.sid, name)
                return
            self.metrics.recovered(name, False)
        sid = await self.manager.pre_connect(eio_sid, name)
        if sid is None:
            await self._send_packet(eio_sid, self.packet_class(
                sio_packet.CONNECT_ERROR, data="Unable to connect",
                namespace=name))
            return
        session = await handler.open_session(sid, identity, address)
        reply = {"sid": sid}
        if reconnections is not None:
            reply["pid"] = reconnections.issue(session, name)
            if isinstance(auth, dict) and auth.get("offsets") is False:
                sock = self.eio.sockets.get(eio_sid)
                if sock is not None and name == reconnections.journal.namespace:
                    sock.plain = True
        await self._send_packet(eio_sid, self.packet_class(
            sio_packet.CONNECT, reply, namespace=name))
        await self.manager.connect(sid, name)
        if self.connect_observer is not None:
            self.connect_observer(sid, name)

    async def _handle_disconnect(self, eio_sid: str, namespace: str | None,
                                 reason: Any = None) -> None:
        # Events the socket sent before it went away run before its
        # disconnect handler, so nothing it sent is lost or reordered.
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
        if sid is not None:
            await self.lanes.wait_idle(sid)
        name = namespace or "/"
        if not self.manager.is_connected(sid, name):
            return
        handler = self._event_handlers.get(name)
        if self.reconnections is not None and handler is not None:
            await self.reconnections.suspend(handler, sid,
                                             self.eio.sockets.get(eio_sid))
        await super()._handle_disconnect(eio_sid, namespace, reason)

    def _forget_pid(self, eio_sid: str, namespace: str | None) -> None:
        handler = self._event_handlers.get(namespace or "/")
        if self.reconnections is None or handler is None:
            return
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
        if sid is not None:
            self.reconnections.forget(handler.sessions.get(sid))

    async def disconnect(self, sid: str, namespace: str | None = None,
                         ignore_queue: bool = False) -> None:
        """End a socket on purpose: it leaves nothing to recover."""
        handler = self._event_handlers.get(namespace or "/")
        if handler is not None and self.reconnections is not None:
            self.reconnections.forget(handler.sessions.get(sid))
        await super().disconnect(sid, namespace=namespace,
                                 ignore_queue=ignore_queue)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        # Packets read before the connection ended are handled first.
        await self.lanes.wait_idle(eio_sid)
        await super()._handle_eio_disconnect(eio_sid, reason)

    # -- reports -------------------------------------------------------------

    def _violation(self, eio_sid: str, code: str, reason: str) -> None:
        self.metrics.protocol_error(code)
        self._hostile_log.log(code, "hostile or broken packet", fields={
            "session": eio_sid, "code": code, "reason": reason})

    def _dropped(self, eio_sid: str, code: str, reason: str) -> None:
        self.metrics.slow_consumer_dropped()
        log.warning("client dropped", extra={"fields": {
            "session": eio_sid, "code": code, "reason": reason}})

    async def disconnect_user(self, user_id: str,
                              notice: dict[str, Any]) -> int:
        """Disconnect every socket of ``user_id`` on every node; each first
        gets ``notice`` as ``chatio_error``. Returns how many were on this
        node (the client manager tells the other nodes)."""
        return await self.manager.disconnect_user(user_id, notice)

    async def disconnect_local_user(self, user_id: str,
                                    notice: dict[str, Any],
                                    wait: bool = True) -> int:
        """``disconnect_user`` for this node's sockets alone. Each runs in
        its socket's lane, after the events it already sent; ``wait`` says
        whether to return only once they all ran."""
        targets = [(namespace, sid)
                   for namespace, handler in self._event_handlers.items()
                   for sid, session in list(handler.sessions.items())
                   if session.user_id == user_id]
        for namespace, sid in targets:
            self.lanes.submit(sid, lambda namespace=namespace, sid=sid:
                              self._disconnect_with(sid, namespace, notice))
        for _, sid in targets if wait else ():
            await self.lanes.wait_idle(sid)
        return len(targets)

    async def _disconnect_with(self, sid: str, namespace: str,
                               notice: dict[str, Any]) -> None:
        if not self.manager.is_connected(sid, namespace):
            return
        await self.emit(c.EVENT_CHATIO_ERROR, notice, to=sid,
                        namespace=namespace, ignore_queue=True)
        await self.disconnect(sid, namespace, ignore_queue=True)

    async def drop_transports(self) -> int:
        """Close every client's transport abruptly; returns how many."""
        sockets = list(self.eio.sockets.values())
        for sock in sockets:
            try:
                for conn in (sock.ws, sock._probe):
                    if conn is not None:
                        conn.abort()
                sock.queue.put_nowait(None)  # ends a pending long-poll
                await sock.close(wait=False, abort=True,
                                 reason=self.reason.SERVER_DISCONNECT)
            except Exception:
                log.exception("closing a transport failed")
        self.eio.sockets.clear()
        return len(sockets)


def _split_event(data: Any) -> tuple[str | None, list[Any]]:
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return None, []
    return data[0], data[1:]
