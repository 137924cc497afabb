"""``ChatioEngine``: python-engineio's server with chatio's transports.

It answers every engine.io HTTP request itself, so that each one gets a
response in bounded time and a hostile request a 400 with a documented code
instead of a hang or a 500. Sessions are ``ChatioSocket``s: WebSocket ones
own their connection (see ``websocket``). Each session keeps a compact
environ (the headers authentication and addressing need), not the request.

Packets for the application go to ``receive(sid, text)``, a plain function
set by the Socket.IO server: it runs in the connection's read callback and
returns an awaitable when reading should wait (backpressure).
"""
from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Callable, Coroutine
from typing import Any

import engineio
from aiohttp import web
from engineio import packet as eio

from .journal import DeliveryJournal
from .socket import PROTOCOL_ERROR, ChatioSocket, TransportError
from .websocket import HandshakeError

log = logging.getLogger(__name__)

Receiver = Callable[[str, str], "asyncio.Future[Any] | None"]
Origins = Callable[[web.BaseRequest], "list[str] | None"]
Report = Callable[[str, str, str], None]

# Headers a session's environ keeps (as WSGI keys) for its lifetime.
KEPT_HEADERS = ("Authorization", "Origin", "Host", "X-Forwarded-For",
                "X-Forwarded-Proto", "X-Forwarded-Host", "User-Agent")


def _ignore(sid: str, code: str, reason: str) -> None:
    return None


class ChatioEngine(engineio.AsyncServer):
    """The engine.io server of a chatio node.

    ``max_buffered``: bytes a session may have waiting to be sent before it
    is dropped as a slow consumer. ``ws_compression``: negotiate
    permessage-deflate (on python-engineio's slower WebSocket).
    ``allowed_origins(request)``: the origins a request may come from (None:
    any), replacing python-engineio's rule, which believes forwarded
    headers from any peer. ``on_violation`` and ``on_drop`` hear
    ``(sid, code, reason)`` of sessions closed for breaking the protocol and
    for not reading.
    """

    # What a new session is; the Admin UI swaps in one that counts traffic.
    socket_class: type[ChatioSocket] = ChatioSocket

    def __init__(self, *, max_buffered: int, ws_compression: bool = False,
                 allowed_origins: Origins | None = None,
                 **kwargs: Any) -> None:
        super().__init__(async_mode="aiohttp", **kwargs)
        self.max_buffered = max_buffered
        self.ws_compression = ws_compression
        self._allowed_origins = allowed_origins
        self.receive: Receiver = self._receive_via_event
        self.on_violation: Report = _ignore
        self.on_drop: Report = _ignore
        self._running: set[asyncio.Task[Any]] = set()
        # Set when connection state recovery is on (``ChatioServer``).
        self.journal: DeliveryJournal | None = None

    def _cors_allowed_origins(self, environ: dict[str, Any]) -> Any:
        if self._allowed_origins is None:
            return super()._cors_allowed_origins(environ)
        return self._allowed_origins(environ["aiohttp.request"])

    # -- hooks for sockets -----------------------------------------------------

    def run_soon(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as a task the engine keeps until it ends."""
        task = asyncio.ensure_future(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def protocol_violation(self, sid: str, code: str, reason: str) -> None:
        self.on_violation(sid, code, reason)

    def dropped(self, sid: str, code: str, reason: str) -> None:
        self.on_drop(sid, code, reason)

    def _receive_via_event(self, sid: str, text: str) -> None:
        self.run_soon(self._trigger_event("message", sid, text))

    # -- HTTP ------------------------------------------------------------------

    async def handle_request(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        """Answer one engine.io request."""
        environ = _environ(request)
        try:
            result = await self._route(request, environ)
        except TransportError as exc:
            result = _refusal(exc.code, exc.reason)
        except HandshakeError as exc:
            result = _refusal(PROTOCOL_ERROR, str(exc))
        except (ConnectionError, asyncio.IncompleteReadError):
            result = _refusal(PROTOCOL_ERROR, "the client went away")
        if isinstance(result, web.StreamResponse):
            return result
        return await self._respond(result, environ)

    async def _route(self, request: web.Request,
                     environ: dict[str, Any]) -> dict[str, Any] | web.StreamResponse:
        origin = environ.get("HTTP_ORIGIN")
        if origin and self.cors_allowed_origins != []:
            allowed = self._cors_allowed_origins(environ)
            if allowed is not None and origin not in allowed:
                return _refusal("ORIGIN_NOT_ALLOWED", "origin not allowed")
        query = urllib.parse.parse_qs(environ["QUERY_STRING"])
        transport = query.get("transport", ["polling"])[0]
        if transport not in self.transports:
            return _refusal(PROTOCOL_ERROR, "unknown transport")
        if "j" in query:
            return _refusal(PROTOCOL_ERROR, "JSONP is not supported")
        method = request.method
        if method == "OPTIONS":
            return self._ok()
        sid = query.get("sid", [None])[0]
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if sid is None:
            if method != "GET":
                return _refusal(PROTOCOL_ERROR, "no session")
            if query.get("EIO") != ["4"]:
                return _refusal(PROTOCOL_ERROR, (
                    "unsupported engine.io version: chatio speaks engine.io 4, "
                    "as Socket.IO 3 and newer clients do"))
            if transport == "websocket" and not upgrade:
                return _refusal(PROTOCOL_ERROR, "not a WebSocket upgrade")
            return await self._open(request, environ, transport)
        sock = self.sockets.get(sid)
        if not isinstance(sock, ChatioSocket) or sock.closed or sock.closing:
            if sock is not None and sock.closed and not sock._polling:
                self.sockets.pop(sid, None)
            return _refusal("UNKNOWN_SESSION", "unknown or closed session")
        if sock.upgraded:
            return _refusal(PROTOCOL_ERROR, "the session uses a WebSocket")
        if method == "GET":
            if transport == "websocket":
                if not upgrade:
                    return _refusal(PROTOCOL_ERROR, "not a WebSocket upgrade")
                return await sock.upgrade(request, environ)
            try:
                packets = await sock.handle_get_request(environ)
            finally:
                # This poll carried the CLOSE packet, if there was one.
                if sock.closed:
                    self.sockets.pop(sid, None)
            return self._ok(packets)
        if method == "POST":
            await sock.handle_post_request(environ)
            return self._ok()
        return self._method_not_found()

    async def _open(self, request: web.Request, environ: dict[str, Any],
                    transport: str) -> dict[str, Any] | web.StreamResponse:
        if self.start_service_task:
            self.start_service_task = False
            self.service_task_handle = self.start_background_task(
                self._service_task)
        sid = self.generate_id()
        sock = self.socket_class(self, sid)
        self.sockets[sid] = sock
        upgrades = (["websocket"] if transport == "polling" and
                    self.allow_upgrades and "websocket" in self.transports
                    else [])
        sock.send_now(eio.Packet(eio.OPEN, {
            "sid": sid, "upgrades": upgrades,
            "pingTimeout": int(self.ping_timeout * 1000),
            "pingInterval": int(self.ping_interval
                                + self.ping_interval_grace_period) * 1000,
            "maxPayload": self.max_http_buffer_size,
        }))
        accepted = await self._trigger_event("connect", sid, _kept(environ),
                                             run_async=False)
        if accepted is not None and accepted is not True:
            self.sockets.pop(sid, None)
            return self._unauthorized(accepted or None)
        sock.schedule_ping()
        if transport == "websocket":
            try:
                return await sock.attach(request, environ)
            except (HandshakeError, ConnectionError):
                self.sockets.pop(sid, None)
                await sock.close(wait=False, abort=True,
                                 reason=self.reason.TRANSPORT_ERROR)
                raise
        sock.connected = True
        return self._ok(await sock.poll())

    async def _respond(self, result: dict[str, Any],
                       environ: dict[str, Any]) -> web.Response:
        body = result["response"]
        headers = list(result["headers"])
        if self.http_compression and len(body) >= self.compression_threshold:
            accepted = [e.split(";")[0].strip() for e in
                        environ.get("HTTP_ACCEPT_ENCODING", "").split(",")]
            for encoding in accepted:
                if encoding in self.compression_methods:
                    body = getattr(self, "_" + encoding)(body)
                    headers.append(("Content-Encoding", encoding))
                    break
        headers += self._cors_headers(environ)
        return web.Response(body=body, status=int(result["status"].split()[0]),
                            headers=headers)

    async def disconnect(self, sid: str | None = None) -> None:
        """Close one session, or every session."""
        if sid is not None:
            sock = self.sockets.get(sid)
            if sock is not None:
                await sock.close(wait=False,
                                 reason=self.reason.SERVER_DISCONNECT)
                self.sockets.pop(sid, None)
            return
        for sock in list(self.sockets.values()):
            await sock.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
        self.sockets = {}

    async def wait_closed(self, timeout: float) -> None:
        """Wait, at most ``timeout`` seconds, for closing sessions to end."""
        deadline = time.monotonic() + timeout
        while self._running and time.monotonic() < deadline:
            await asyncio.wait(list(self._running),
                               timeout=deadline - time.monotonic())


def _environ(request: web.Request) -> dict[str, Any]:
    """A WSGI-style environ with what engine.io and chatio read."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.query_string or "",
        "PATH_INFO": request.path,
        "REMOTE_ADDR": request.remote or "",
        "wsgi.url_scheme": request.scheme,
        "aiohttp.request": request,
    }
    headers = request.headers
    for name in (*KEPT_HEADERS, "Accept-Encoding",
                 "Access-Control-Request-Headers"):
        values = headers.getall(name, None)
        if values:
            environ["HTTP_" + name.upper().replace("-", "_")] = ",".join(values)
    return environ


def _kept(environ: dict[str, Any]) -> dict[str, Any]:
    """What a session keeps of its first request's environ."""
    kept = {key: value for key, value in environ.items()
            if key != "aiohttp.request" and not key.startswith("HTTP_ACC")}
    return kept


def _refusal(code: str, message: str, *,
             status: str = "400 BAD REQUEST") -> dict[str, Any]:
    body = '{"code":"%s","message":%s}' % (
        code, engineio.json.dumps(message))
    return {"status": status, "headers": [("Content-Type", "application/json")],
            "response": body.encode("utf-8")}
