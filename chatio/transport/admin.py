"""The Socket.IO Admin UI (``@socket.io/admin-ui``) on a chatio node.

python-socketio's ``InstrumentedAsyncServer`` reports what a server does by
patching it. With chatio's transport most of its patches never fire:
events are dispatched by ``ChatioServer``, broadcasts built by
``FrameDelivery``, WebSocket and long-poll traffic handled by
``ChatioSocket``, pings sent by a timer; and it patches engine.io's socket
class for the whole process. ``AdminUI`` speaks the same protocol to the UI
through chatio's explicit hooks instead:

- connections, disconnections and room changes: the server's
  ``_trigger_event`` and the manager's ``basic_enter_room`` and
  ``basic_leave_room``, wrapped on these instances only;
- events received: ``ChatioServer.observer``; events sent:
  ``FrameDelivery.observer``, on the node that delivered them;
- traffic: engine.io's ``_ok`` (long-polling) and a ``ChatioSocket``
  subclass that counts WebSocket frames (``ChatioEngine.socket_class``);
- ``server_stats`` every ``server_stats_interval`` seconds from start-up;
  in a cluster every node reports through the shared manager, and a new
  admin socket gets every node's sockets (``RedisManager`` admin sync).

It is read-only, requires the configured username and password, and shows
no credential (``admin_view``). Reports go through a bounded queue: under
load the UI misses events rather than slowing the chat down.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import os
import socket as stdlib_socket
import time
from collections import deque
from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any

import socketio
from engineio import packet as eio
from socketio.admin import EventBuffer

from .. import constants as c
from ..log_limits import LogLimiter
from . import admin_view
from .redis_manager import RedisManager
from .socket import ChatioSocket
from .websocket import WebSocketConnection

if TYPE_CHECKING:
    from .server import ChatioServer

log = logging.getLogger(__name__)

HOSTNAME = stdlib_socket.gethostname()
# Reports waiting to be sent to the admin namespace; beyond, they are dropped.
FEED_LIMIT = 5000
# Seconds shutdown() waits for the report tasks to end.
STOP_TIMEOUT = 2.0


class AdminUI:
    """Reports ``sio`` to Admin UI sockets on ``namespace``.

    ``mode`` is ``development`` (sockets, rooms and events) or
    ``production`` (server stats and traffic counts only). ``start()`` once
    the event loop runs; ``shutdown()`` stops reporting.
    """

    def __init__(self, sio: ChatioServer, *, username: str, password: str,
                 mode: str = "development", server_id: str | None = None,
                 namespace: str = "/admin",
                 server_stats_interval: float = 2.0) -> None:
        if mode not in {"development", "production"}:
            raise ValueError("mode must be development or production")
        self.sio = sio
        self.admin_namespace = namespace
        self.mode = mode
        self.server_id = server_id or HOSTNAME
        self.server_stats_interval = server_stats_interval
        self.event_buffer = EventBuffer()
        self.dropped = 0
        self._credentials = (username.encode(), password.encode())
        self._connected_at: dict[str, float] = {}
        self._feed: deque[tuple[str, Any, str | None]] = deque()
        self._feed_ready = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = False
        self._refusals = LogLimiter(log)
        self._instrument()

    # -- hooks ---------------------------------------------------------------

    def _instrument(self) -> None:
        sio, ns = self.sio, self.admin_namespace
        sio.on("connect", self.admin_connect, namespace=ns)
        sio.serve_plain_namespace(ns)
        engine = sio.eio
        engine.on("connect", self._eio_connected)
        engine.on("disconnect", self._eio_disconnected)
        ok = engine._ok

        def counted_ok(packets: Any = None, headers: Any = None,
                       jsonp_index: Any = None) -> dict[str, Any]:
            result: dict[str, Any] = ok(packets=packets, headers=headers,
                                        jsonp_index=jsonp_index)
            self.event_buffer.push("packetsOut")
            self.event_buffer.push("bytesOut", len(result["response"]))
            return result
        engine._ok = counted_ok  # type: ignore[method-assign]
        engine.socket_class = _counting_socket(self)
        if self.mode != "development":
            return
        trigger = sio._trigger_event

        async def reported(event: str, namespace: str, *args: Any) -> Any:
            result = await trigger(event, namespace, *args)
            if event == "connect" and result is not False:
                self._socket_connected(args[0], namespace)
            elif event == "disconnect":
                self._socket_disconnected(args[0], namespace,
                                          args[1] if len(args) > 1 else None)
            return result
        sio._trigger_event = reported  # type: ignore[method-assign]
        # chatio's own namespaces accept sockets without a "connect" event.
        sio.connect_observer = self._socket_connected
        manager = sio.manager
        enter, leave = manager.basic_enter_room, manager.basic_leave_room

        def entered(sid: str, namespace: str, room: Any,
                    eio_sid: str | None = None) -> Any:
            result = enter(sid, namespace, room, eio_sid=eio_sid)
            if room is not None and room != sid:
                self._push("room_joined", (namespace, room, sid, _now()))
            return result

        def left(sid: str, namespace: str, room: Any) -> Any:
            if room is not None and room != sid:
                self._push("room_left", (namespace, room, sid, _now()))
            return leave(sid, namespace, room)
        manager.basic_enter_room = entered  # type: ignore[method-assign]
        manager.basic_leave_room = left  # type: ignore[method-assign]
        sio.observer = self
        manager.observer = self
        if isinstance(manager, RedisManager):
            manager.on_admin_sync = self._sync_requested

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Start sending server stats and reports."""
        self._spawn(self._report_stats())
        self._spawn(self._send_feed())

    async def shutdown(self) -> None:
        """Stop reporting."""
        # A cancellation can be swallowed by a Redis call under way, so the
        # loops also stop on the flag.
        self._stopped = True
        self._feed_ready.set()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- admin sockets ---------------------------------------------------------

    async def admin_connect(self, sid: str, environ: dict[str, Any],
                            auth: Any = None) -> None:
        """Admit an Admin UI socket with the right username and password."""
        if not self._authenticated(auth):
            self._refusals.log("admin-refused", "Admin UI login refused",
                               fields={"address": environ.get("REMOTE_ADDR")})
            raise socketio.exceptions.ConnectionRefusedError(
                "invalid credentials", {"code": c.UNAUTHORIZED})
        log.info("Admin UI connected", extra={"fields": {
            "sid": sid, "address": environ.get("REMOTE_ADDR")}})
        self._spawn(self._welcome(sid))

    def _authenticated(self, auth: Any) -> bool:
        if not isinstance(auth, dict):
            return False
        user, password = auth.get("username"), auth.get("password")
        if not isinstance(user, str) or not isinstance(password, str):
            return False
        expected_user, expected_password = self._credentials
        user_ok = hmac.compare_digest(user.encode(), expected_user)
        password_ok = hmac.compare_digest(password.encode(), expected_password)
        return user_ok and password_ok

    async def _welcome(self, sid: str) -> None:
        # Runs after the CONNECT packet went out: this task starts once the
        # connect handler returned.
        await asyncio.sleep(0)
        features = ["AGGREGATED_EVENTS"]
        if self.mode == "development":
            features.append("ALL_EVENTS")
        ns = self.admin_namespace
        await self.sio.emit("config", {"supportedFeatures": features},
                            to=sid, namespace=ns)
        if self.mode != "development":
            return
        await self.sio.emit("all_sockets", self._local_sockets(), to=sid,
                            namespace=ns)
        manager = self.sio.manager
        if isinstance(manager, RedisManager):
            await manager.publish_admin_sync(ns, sid)

    def _sync_requested(self, admin_sid: str) -> None:
        for serialized in self._local_sockets():
            connected = serialized["handshake"]["time"] or _now()
            self._push("socket_connected", (serialized, connected),
                       to=admin_sid)

    # -- reports ---------------------------------------------------------------

    def _socket_connected(self, sid: str, namespace: str) -> None:
        now = time.time()
        self._connected_at[sid] = now
        self._push("socket_connected",
                   (self.serialize_socket(sid, namespace), _now(now)))

    def _socket_disconnected(self, sid: str, namespace: str,
                             reason: Any) -> None:
        if self._connected_at.pop(sid, None) is not None:
            self._push("socket_disconnected",
                       (namespace, sid, str(reason), _now()))

    def socket_upgraded(self, eio_sid: str) -> None:
        """A long-polling session moved to WebSocket."""
        if self.mode != "development":
            return
        manager = self.sio.manager
        for namespace in list(manager.get_namespaces()):
            sid = manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is not None:
                self._push("socket_updated", {
                    "id": sid, "nsp": namespace, "transport": "websocket"})

    def event_received(self, namespace: str, sid: str, data: Any) -> None:
        """``ChatioServer.observer``: a client event, before it runs."""
        if namespace != self.admin_namespace:
            self._push("event_received",
                       (namespace, sid, admin_view.redact(data), _now()))

    def event_sent(self, namespace: str, args: list[Any],
                   sids: Iterable[str]) -> None:
        """``FrameDelivery.observer``: an event this node delivered."""
        if namespace == self.admin_namespace:
            return
        shown, now = admin_view.redact(args), _now()
        for sid in sids:
            if not self._push("event_sent", (namespace, sid, shown, now)):
                break

    def _push(self, event: str, args: Any, to: str | None = None) -> bool:
        if len(self._feed) >= FEED_LIMIT:
            self.dropped += 1
            return False
        self._feed.append((event, args, to))
        self._feed_ready.set()
        return True

    async def _send_feed(self) -> None:
        ns = self.admin_namespace
        while not self._stopped:
            await self._feed_ready.wait()
            self._feed_ready.clear()
            while self._feed and not self._stopped:
                event, args, to = self._feed.popleft()
                try:
                    await self.sio.emit(event, args, to=to, namespace=ns)
                except Exception:
                    log.exception("Admin UI report failed")

    async def _report_stats(self) -> None:
        started = time.time()
        while not self._stopped:
            try:
                await self.sio.emit("server_stats", self._stats(started),
                                    namespace=self.admin_namespace)
            except Exception:
                log.exception("Admin UI server stats failed")
            await asyncio.sleep(self.server_stats_interval)

    def _stats(self, started: float) -> dict[str, Any]:
        sio = self.sio
        sockets = list(sio.eio.sockets.values())
        rooms = sio.manager.rooms
        names = sorted(set(sio.namespace_handlers) | set(sio.handlers))
        return {
            "serverId": self.server_id,
            "hostname": HOSTNAME,
            "pid": os.getpid(),
            "uptime": time.time() - started,
            "clientsCount": len(sockets),
            "pollingClientsCount": sum(1 for s in sockets if not s.upgraded),
            "aggregatedEvents": self.event_buffer.get_and_clear(),
            "namespaces": [{"name": name, "socketsCount": len(
                rooms.get(name, {}).get(None, ()))} for name in names],
        }

    async def _eio_connected(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        self.event_buffer.push("rawConnection")
        return await self.sio._handle_eio_connect(eio_sid, environ)

    async def _eio_disconnected(self, eio_sid: str, reason: Any) -> Any:
        self.event_buffer.push("rawDisconnection")
        return await self.sio._handle_eio_disconnect(eio_sid, reason)

    # -- what an admin sees ------------------------------------------------------

    def _local_sockets(self) -> list[dict[str, Any]]:
        manager = self.sio.manager
        return [self.serialize_socket(sid, namespace, eio_sid)
                for namespace in list(manager.get_namespaces())
                for sid, eio_sid in list(manager.get_participants(
                    namespace, None))]

    def serialize_socket(self, sid: str, namespace: str,
                         eio_sid: str | None = None) -> dict[str, Any]:
        """One socket as the UI lists it, without credentials."""
        sio = self.sio
        if eio_sid is None:
            eio_sid = sio.manager.eio_sid_from_sid(sid, namespace)
        sock = sio.eio.sockets.get(eio_sid)
        environ = sio.environ.get(eio_sid, {})
        address = str(environ.get("REMOTE_ADDR", ""))
        data: dict[str, Any] = {}
        handler = sio.handler(namespace)
        session = handler.sessions.get(sid) if handler is not None else None
        if session is not None:
            address = session.address
            data = {"user": session.identity.public()}
        return {
            "id": sid,
            "clientId": eio_sid,
            "transport": "websocket" if sock is not None and sock.upgraded
            else "polling",
            "nsp": namespace,
            "data": data,
            "handshake": admin_view.handshake(
                environ, address, self._connected_at.get(sid, 0.0)),
            "rooms": sio.manager.get_rooms(sid, namespace),
        }


def _now(seconds: float | None = None) -> str:
    return admin_view.timestamp(time.time() if seconds is None else seconds)


def _counting_socket(admin: AdminUI) -> type[ChatioSocket]:
    """A ``ChatioSocket`` whose WebSocket traffic ``admin`` counts."""
    buffer = admin.event_buffer

    class CountingSocket(ChatioSocket):
        def send_now(self, pkt: eio.Packet) -> None:
            if self.ws is not None and not self.closed:
                buffer.push("packetsOut")
                buffer.push("bytesOut", len(pkt.encode()))
            super().send_now(pkt)

        def deliver(self, frame: bytes, pkt: eio.Packet) -> None:
            if self.ws is not None and not self.closed:
                buffer.push("packetsOut")
                buffer.push("bytesOut", len(frame))
            super().deliver(frame, pkt)

        def on_text(self, conn: WebSocketConnection, text: str) -> None:
            buffer.push("packetsIn")
            buffer.push("bytesIn", len(text))
            upgraded = self.upgraded
            super().on_text(conn, text)
            if self.upgraded and not upgraded:
                admin.socket_upgraded(self.sid)

        async def handle_post_request(self, environ: dict[str, Any]) -> None:
            buffer.push("packetsIn")
            buffer.push("bytesIn", environ["aiohttp.request"].content_length or 0)
            await super().handle_post_request(environ)

    return CountingSocket
