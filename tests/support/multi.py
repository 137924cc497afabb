"""A test client for several chatio namespaces over one connection.

python-socketio's ``AsyncClient`` multiplexes every namespace it connects
over a single engine.io connection, the way the official JS client does for
sockets of one Manager. Every event the server sends lands in a queue per
``(namespace, event)``, so a test waits for what it expects with an explicit
timeout instead of sleeping, and proves that something did *not* arrive
with a round trip on the same namespace (``expect_nothing``).
"""
from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import socketio
from socketio import packet

from chatio.constants import (CHAT_NAMESPACE, PRESENCE_NAMESPACE,
                              TYPING_NAMESPACE)

from .acks import assert_ok

TIMEOUT = 10.0
ALL_NAMESPACES = (CHAT_NAMESPACE, PRESENCE_NAMESPACE, TYPING_NAMESPACE)
_UNSET: Any = object()

# A request every namespace answers without changing any state the tests
# look at: /chat needs no membership to refuse a history read, and
# unsubscribing from a room never subscribed is harmless.
_ROUNDTRIPS = {
    CHAT_NAMESPACE: ("history", {"room": "roundtrip"}),
    PRESENCE_NAMESPACE: ("unsubscribe", {"room": "roundtrip"}),
    TYPING_NAMESPACE: ("unsubscribe", {"room": "roundtrip"}),
}


class MultiClient:
    """One python-socketio ``AsyncClient`` connected to ``namespaces``."""

    def __init__(self, namespaces: tuple[str, ...] = ALL_NAMESPACES,
                 transports: tuple[str, ...] = ("websocket",)) -> None:
        self.namespaces = tuple(namespaces)
        self.transports = list(transports)
        self.sio = socketio.AsyncClient(reconnection=False,
                                        handle_sigint=False,
                                        request_timeout=TIMEOUT)
        self._queues: dict[tuple[str, str], asyncio.Queue[Any]] = \
            defaultdict(asyncio.Queue)
        self.connect_errors: dict[str, asyncio.Queue[Any]] = \
            defaultdict(asyncio.Queue)
        self.disconnected: dict[str, asyncio.Event] = \
            defaultdict(asyncio.Event)
        self.offsets: list[str] = []
        for ns in self.namespaces:
            self.sio.on("*", functools.partial(self._on_event, ns),
                        namespace=ns)
            self.sio.on("connect_error",
                        functools.partial(self._on_connect_error, ns),
                        namespace=ns)
            self.sio.on("disconnect",
                        functools.partial(self._on_disconnect, ns),
                        namespace=ns)

    # -- connection -------------------------------------------------------

    async def connect(self, url: str, token: str | None = None, *,
                      location: str = "auth", auth: Any = _UNSET,
                      headers: Mapping[str, str] | None = None,
                      query: Mapping[str, str] | None = None,
                      timeout: float = TIMEOUT) -> MultiClient:
        """Connect every namespace; ``location`` says where ``token`` goes:
        ``auth`` (the Socket.IO auth payload every namespace gets),
        ``query`` (``?token=``) or ``header`` (``Authorization: Bearer``).

        Raises ``socketio.exceptions.ConnectionError`` when any namespace
        is refused; the refusals are then in ``connect_errors``.
        """
        params = dict(query or {})
        all_headers = dict(headers or {})
        if auth is _UNSET:
            auth = None
            if token is not None:
                if location == "auth":
                    auth = {"token": token}
                elif location == "query":
                    params["token"] = token
                elif location == "header":
                    all_headers["Authorization"] = f"Bearer {token}"
                else:
                    raise ValueError(f"unknown token location {location!r}")
        if params:
            url = f"{url}?{urlencode(params)}"
        await asyncio.wait_for(
            self.sio.connect(url, headers=all_headers, auth=auth,
                             transports=self.transports,
                             namespaces=list(self.namespaces),
                             wait_timeout=timeout),
            timeout + 5)
        return self

    async def refusal(self, url: str, token: str | None = None,
                      **kwargs: Any) -> dict[str, Any]:
        """Connect expecting a refusal; return ``{namespace: data}`` of the
        ``connect_error``s received."""
        try:
            await self.connect(url, token, **kwargs)
        except socketio.exceptions.ConnectionError:
            pass
        else:
            await self.close()
            raise AssertionError("the connection was accepted")
        refused = {}
        for ns, queue in self.connect_errors.items():
            if not queue.empty():
                refused[ns] = queue.get_nowait()
        await self.abort()
        return refused

    @property
    def eio_sid(self) -> str | None:
        """The engine.io session every namespace of this client shares."""
        return self.sio.eio.sid

    def connected(self, namespace: str) -> bool:
        return (self.sio.connected and namespace in self.sio.namespaces
                and not self.disconnected[namespace].is_set())

    async def disconnect_namespace(self, namespace: str) -> None:
        """Leave one namespace and keep the connection for the others."""
        await self.sio._send_packet(self.sio.packet_class(
            packet.DISCONNECT, namespace=namespace))
        self.sio.namespaces.pop(namespace, None)

    async def close(self) -> None:
        """Leave every namespace and drop the connection without waiting
        for a pending long-poll request to come back."""
        sio = self.sio
        if sio.connected:
            try:
                for namespace in list(sio.namespaces):
                    await sio._send_packet(sio.packet_class(
                        packet.DISCONNECT, namespace=namespace))
                # Let the write loop deliver the packets before aborting.
                await asyncio.wait_for(sio.eio.queue.join(), 2)
            except Exception:  # the server may already be gone
                pass
            sio.connected = False
            sio.namespaces = {}
        await self.abort()

    async def drop(self) -> None:
        """Lose the connection abruptly, with no Socket.IO goodbye (a flaky
        network, a closed laptop lid)."""
        self.sio.connected = False
        self.sio.namespaces = {}
        await self.abort()

    async def abort(self) -> None:
        """Drop the engine.io connection at once, without waiting for a
        pending long-poll request, and let its read/write loops end."""
        eio = self.sio.eio
        try:
            await asyncio.wait_for(eio.disconnect(abort=True), TIMEOUT)
        except Exception:
            pass
        for task in (getattr(eio, "read_loop_task", None),
                     getattr(eio, "write_loop_task", None)):
            if task is not None and not task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(task), 2)
                except Exception:
                    task.cancel()

    async def wait_disconnected(self, namespace: str,
                                timeout: float = TIMEOUT) -> None:
        await asyncio.wait_for(self.disconnected[namespace].wait(), timeout)

    # -- requests ---------------------------------------------------------

    async def request(self, namespace: str, event: str,
                      *args: Any) -> asyncio.Future[Any]:
        """Emit ``event`` with exactly ``args`` and an ack callback; return a
        future for the ack without waiting for it."""
        future, on_ack = _ack_future()
        await self.sio.emit(event, data=tuple(args), namespace=namespace,
                            callback=on_ack)
        return future

    async def call(self, namespace: str, event: str, *args: Any,
                   timeout: float = TIMEOUT) -> Any:
        """Emit ``event`` with exactly ``args``; return its single ack."""
        return await self.ack(await self.request(namespace, event, *args),
                              timeout)

    @staticmethod
    async def ack(future: asyncio.Future[Any],
                  timeout: float = TIMEOUT) -> Any:
        ack = await asyncio.wait_for(future, timeout)
        assert len(ack) == 1, f"an ack carries exactly one object, got {ack!r}"
        return ack[0]

    async def emit(self, namespace: str, event: str, *args: Any) -> None:
        """Emit ``event`` with exactly ``args`` and no ack callback."""
        await self.sio.emit(event, data=tuple(args), namespace=namespace)

    async def raw_request(self, namespace: str,
                          body: str) -> asyncio.Future[Any]:
        """Send a hand-written EVENT packet (``body`` is its JSON array
        text) with an ack id from the client's own registry."""
        future, on_ack = _ack_future()
        ack_id = self.sio._generate_ack_id(namespace, on_ack)
        await self.sio.eio.send(f"2{namespace},{ack_id}{body}")
        return future

    async def raw_call(self, namespace: str, body: str,
                       timeout: float = TIMEOUT) -> Any:
        return await self.ack(await self.raw_request(namespace, body), timeout)

    async def raw_send(self, namespace: str, body: str) -> None:
        """Send a hand-written EVENT packet without an ack id."""
        await self.sio.eio.send(f"2{namespace},{body}")

    async def roundtrip(self, namespace: str) -> None:
        """Make one request on ``namespace`` and wait for its ack.

        The server handles one socket's events in order and writes to one
        connection in order, so whatever it sent this client before it
        answered has arrived once this returns.
        """
        event, payload = _ROUNDTRIPS[namespace]
        await self.call(namespace, event, payload)

    async def expect_nothing(self, namespace: str, *events: str) -> None:
        """Round-trip on ``namespace``, then check that none of ``events``
        (there) arrived and none is waiting unconsumed."""
        await self.roundtrip(namespace)
        for event in events:
            assert self.pending(namespace, event) == [], \
                f"unexpected {event!r} on {namespace}"

    # -- conveniences -----------------------------------------------------

    async def subscribe(self, namespace: str, room: str) -> dict[str, Any]:
        return assert_ok(await self.call(namespace, "subscribe",
                                         {"room": room}))

    async def unsubscribe(self, namespace: str, room: str) -> dict[str, Any]:
        return assert_ok(await self.call(namespace, "unsubscribe",
                                         {"room": room}))

    async def join(self, room: str, **fields: Any) -> dict[str, Any]:
        return assert_ok(await self.call(CHAT_NAMESPACE, "join",
                                         {"room": room, **fields}))

    async def leave(self, room: str) -> dict[str, Any]:
        return assert_ok(await self.call(CHAT_NAMESPACE, "leave",
                                         {"room": room}))

    async def send(self, room: str, text: str,
                   client_id: str | None = None) -> dict[str, Any]:
        """Send a message and return its (checked ok) ack."""
        return assert_ok(await self.call(CHAT_NAMESPACE, "message",
                                         _message(room, text, client_id)))

    async def history(self, room: str, **fields: Any) -> dict[str, Any]:
        return assert_ok(await self.call(CHAT_NAMESPACE, "history",
                                         {"room": room, **fields}))

    async def typing(self, room: str, typing: bool = True) -> Any:
        """Send ``typing`` and return its ack (not checked)."""
        return await self.call(TYPING_NAMESPACE, "typing",
                               {"room": room, "typing": typing})

    # -- received events --------------------------------------------------

    async def next(self, namespace: str, event: str,
                   timeout: float = TIMEOUT) -> Any:
        """The next ``event`` the server emitted on ``namespace``."""
        return await asyncio.wait_for(self._queues[namespace, event].get(),
                                      timeout)

    async def collect(self, namespace: str, event: str, count: int,
                      timeout: float = TIMEOUT) -> list[Any]:
        """The next ``count`` ``event``s, within one overall timeout."""
        queue = self._queues[namespace, event]

        async def gather() -> list[Any]:
            return [await queue.get() for _ in range(count)]
        return await asyncio.wait_for(gather(), timeout)

    def pending(self, namespace: str, event: str) -> list[Any]:
        """Every ``event`` received and not consumed yet (no waiting)."""
        queue = self._queues[namespace, event]
        items = []
        while not queue.empty():
            items.append(queue.get_nowait())
        return items

    def _on_event(self, namespace: str, event: str, *args: Any) -> None:
        if event == "message" and len(args) == 2 and isinstance(args[1], str):
            # The recovery offset every /chat message carries.
            self.offsets.append(args[1])
            args = args[:1]
        self._queues[namespace, event].put_nowait(
            args[0] if len(args) == 1 else args)

    def _on_connect_error(self, namespace: str, data: Any = None) -> None:
        self.connect_errors[namespace].put_nowait(data)

    def _on_disconnect(self, namespace: str, reason: Any = None) -> None:
        self.disconnected[namespace].set()


def _message(room: str, text: str, client_id: str | None) -> dict[str, Any]:
    payload = {"room": room, "text": text}
    if client_id is not None:
        payload["client_id"] = client_id
    return payload


def _ack_future() -> tuple[asyncio.Future[Any], Callable[..., None]]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def on_ack(*ack: Any) -> None:
        if not future.done():
            future.set_result(ack)
    return future, on_ack


class ClientPool:
    """Makes ``MultiClient``s and closes them all at the end.

    ``mint(sub, **claims)`` makes a token, like the ``token`` fixture.
    """

    def __init__(self, mint: Callable[..., str]) -> None:
        self._mint = mint
        self._made: list[MultiClient] = []

    def new(self, namespaces: tuple[str, ...] = ALL_NAMESPACES,
            transports: tuple[str, ...] = ("websocket",)) -> MultiClient:
        client = MultiClient(namespaces, transports)
        self._made.append(client)
        return client

    async def connect(self, server: Any, sub: str = "alice", *,
                      namespaces: tuple[str, ...] = ALL_NAMESPACES,
                      transports: tuple[str, ...] = ("websocket",),
                      token: str | None = None,
                      **claims: Any) -> MultiClient:
        """A client of ``server`` (anything with ``url``) as ``sub``, with
        a fresh token carrying ``claims`` unless ``token`` is given."""
        client = self.new(namespaces, transports)
        if token is None:
            token = self._mint(sub, **claims)
        return await client.connect(server.url, token)

    async def close(self) -> None:
        for client in self._made:
            await client.close()


@asynccontextmanager
async def client_pool(mint: Callable[..., str]) -> AsyncIterator[ClientPool]:
    pool = ClientPool(mint)
    try:
        yield pool
    finally:
        await pool.close()


def presence_event(room: str, user_id: str, name: str,
                   status: str) -> Mapping[str, Any]:
    """The exact ``presence`` event for a transition."""
    return {"room": room, "user": {"id": user_id, "name": name},
            "status": status}


def typing_event(room: str, user_id: str, name: str,
                 typing: bool) -> Mapping[str, Any]:
    """The exact ``typing`` event for a transition."""
    return {"room": room, "user": {"id": user_id, "name": name},
            "typing": typing}
