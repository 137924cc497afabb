"""A thin test client for the /chat namespace over python-socketio.

Every event the server sends lands in a per-event ``asyncio.Queue``, so a
test waits for what it expects with an explicit timeout instead of sleeping.
"""
from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import socketio
from socketio import packet

from chatio.constants import CHAT_NAMESPACE, INVALID_PAYLOAD, RETRYABLE_CODES

TIMEOUT = 10.0
_UNSET: Any = object()


class ChatClient:
    """One python-socketio ``AsyncClient`` connected to ``/chat``."""

    def __init__(self, transports: tuple[str, ...] = ("websocket",)) -> None:
        self.transports = list(transports)
        self.sio = socketio.AsyncClient(reconnection=False,
                                        handle_sigint=False,
                                        request_timeout=TIMEOUT)
        self._queues: dict[str, asyncio.Queue[Any]] = defaultdict(
            asyncio.Queue)
        self.connect_errors: asyncio.Queue[Any] = asyncio.Queue()
        self.disconnected = asyncio.Event()
        ns = CHAT_NAMESPACE
        self.sio.on("*", self._on_event, namespace=ns)
        self.sio.on("connect_error", self._on_connect_error, namespace=ns)
        self.sio.on("disconnect", self._on_disconnect, namespace=ns)

    # -- connection -------------------------------------------------------

    async def connect(self, url: str, token: str | None = None, *,
                      location: str = "auth", auth: Any = _UNSET,
                      headers: Mapping[str, str] | None = None,
                      query: Mapping[str, str] | None = None,
                      timeout: float = TIMEOUT) -> ChatClient:
        """Connect to ``url``; ``location`` says where ``token`` goes:
        ``auth`` (the Socket.IO auth payload), ``query`` (``?token=``) or
        ``header`` (``Authorization: Bearer``).

        Raises ``socketio.exceptions.ConnectionError`` when refused; the
        refusal itself is then in ``connect_errors``.
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
                             namespaces=[CHAT_NAMESPACE],
                             wait_timeout=timeout),
            timeout + 5)
        return self

    async def refusal(self, url: str, token: str | None = None,
                      **kwargs: Any) -> Any:
        """Connect expecting a refusal; return the ``connect_error`` data.

        After a refusal python-socketio's client closes its engine.io
        connection and, over long-polling, waits for the pending GET to
        return; the refusal is all a test needs, so the client is aborted
        as soon as it has arrived.
        """
        connecting = asyncio.ensure_future(self.connect(url, token, **kwargs))
        refused = asyncio.ensure_future(self.connect_errors.get())
        done, _ = await asyncio.wait({connecting, refused}, timeout=TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
        if refused not in done:
            refused.cancel()
            if connecting not in done:
                connecting.cancel()
                await self.close()
                raise TimeoutError("no connect_error within the timeout")
            try:
                connecting.result()
            except socketio.exceptions.ConnectionError as exc:
                raise AssertionError(
                    f"refused without a connect_error: {exc!r}") from exc
            await self.close()
            raise AssertionError("the connection was accepted")
        await self._abort()
        try:
            await asyncio.wait_for(connecting, TIMEOUT)
        except socketio.exceptions.ConnectionError:
            pass
        else:
            await self.close()
            raise AssertionError("connect() succeeded after connect_error")
        return refused.result()

    @property
    def connected(self) -> bool:
        return (self.sio.connected and CHAT_NAMESPACE in self.sio.namespaces
                and not self.disconnected.is_set())

    async def close(self) -> None:
        """Leave /chat and drop the connection without waiting for a
        pending long-poll request to come back."""
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
        await self._abort()

    async def _abort(self) -> None:
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

    async def wait_disconnected(self, timeout: float = TIMEOUT) -> None:
        await asyncio.wait_for(self.disconnected.wait(), timeout)

    # -- requests ---------------------------------------------------------

    async def request(self, event: str, *args: Any) -> asyncio.Future[Any]:
        """Emit ``event`` with exactly ``args`` and an ack callback; return a
        future for the ack without waiting for it."""
        future: asyncio.Future[Any] = \
            asyncio.get_running_loop().create_future()

        def on_ack(*ack: Any) -> None:
            if not future.done():
                future.set_result(ack)

        await self.sio.emit(event, data=tuple(args),
                            namespace=CHAT_NAMESPACE, callback=on_ack)
        return future

    async def call(self, event: str, *args: Any,
                   timeout: float = TIMEOUT) -> Any:
        """Emit ``event`` with exactly ``args`` and return its single ack."""
        return await self.ack(await self.request(event, *args), timeout)

    @staticmethod
    async def ack(future: asyncio.Future[Any],
                  timeout: float = TIMEOUT) -> Any:
        ack = await asyncio.wait_for(future, timeout)
        assert len(ack) == 1, f"an ack carries exactly one object, got {ack!r}"
        return ack[0]

    async def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` with exactly ``args`` and no ack callback."""
        await self.sio.emit(event, data=tuple(args), namespace=CHAT_NAMESPACE)

    async def raw_request(self, body: str) -> asyncio.Future[Any]:
        """Send a hand-written Socket.IO EVENT packet to /chat.

        ``body`` is the packet's JSON array text, for example
        ``'["disconnect",{}]'``. The packet gets an ack id from the client's
        own ack registry, so the server's ack is routed back to the future.
        """
        future: asyncio.Future[Any] = \
            asyncio.get_running_loop().create_future()

        def on_ack(*ack: Any) -> None:
            if not future.done():
                future.set_result(ack)

        ack_id = self.sio._generate_ack_id(CHAT_NAMESPACE, on_ack)
        await self.sio.eio.send(f"2{CHAT_NAMESPACE},{ack_id}{body}")
        return future

    async def raw_call(self, body: str, timeout: float = TIMEOUT) -> Any:
        return await self.ack(await self.raw_request(body), timeout)

    async def raw_send(self, body: str) -> None:
        """Send a hand-written EVENT packet without an ack id."""
        await self.sio.eio.send(f"2{CHAT_NAMESPACE},{body}")

    # -- conveniences -----------------------------------------------------

    async def join(self, room: str, **fields: Any) -> dict[str, Any]:
        return assert_ok(await self.call("join", {"room": room, **fields}))

    async def leave(self, room: str) -> dict[str, Any]:
        return assert_ok(await self.call("leave", {"room": room}))

    async def send(self, room: str, text: str,
                   client_id: str | None = None) -> dict[str, Any]:
        """Send a message and return its (checked ok) ack."""
        return assert_ok(await self.call("message",
                                         _message(room, text, client_id)))

    async def history(self, room: str, **fields: Any) -> dict[str, Any]:
        return assert_ok(await self.call("history", {"room": room, **fields}))

    async def roundtrip(self) -> None:
        """Make one request and wait for its ack.

        Events of one socket are handled in order, so anything the server
        emitted to this socket because of earlier requests has arrived once
        this returns.
        """
        await self.call("history", {"room": "roundtrip"})

    # -- received events --------------------------------------------------

    async def next(self, event: str, timeout: float = TIMEOUT) -> Any:
        """The next ``event`` the server emitted to this socket."""
        return await asyncio.wait_for(self._queues[event].get(), timeout)

    async def collect(self, event: str, count: int,
                      timeout: float = TIMEOUT) -> list[Any]:
        """The next ``count`` ``event``s, within one overall timeout."""
        async def gather() -> list[Any]:
            return [await self._queues[event].get() for _ in range(count)]
        return await asyncio.wait_for(gather(), timeout)

    def pending(self, event: str) -> list[Any]:
        """Every ``event`` received and not consumed yet (no waiting)."""
        queue = self._queues[event]
        items = []
        while not queue.empty():
            items.append(queue.get_nowait())
        return items

    def _on_event(self, event: str, *args: Any) -> None:
        self._queues[event].put_nowait(args[0] if len(args) == 1 else args)

    def _on_connect_error(self, data: Any = None) -> None:
        self.connect_errors.put_nowait(data)

    def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnected.set()


def _message(room: str, text: str, client_id: str | None) -> dict[str, Any]:
    payload = {"room": room, "text": text}
    if client_id is not None:
        payload["client_id"] = client_id
    return payload


def assert_ok(ack: Any) -> dict[str, Any]:
    assert isinstance(ack, dict), f"ack is not an object: {ack!r}"
    assert ack.get("ok") is True, f"expected ok, got {_short(ack)}"
    return ack


def assert_error(ack: Any, code: str) -> dict[str, Any]:
    """Check a failed ack's exact shape; return its ``error`` object."""
    assert isinstance(ack, dict), f"ack is not an object: {ack!r}"
    assert ack.get("ok") is False, f"expected {code}, got {_short(ack)}"
    error = ack.get("error")
    assert isinstance(error, dict), f"no error object in {_short(ack)}"
    assert error.get("code") == code, f"expected {code}, got {_short(ack)}"
    check_error_object(error)
    return error


def check_error_object(error: dict[str, Any]) -> None:
    assert isinstance(error.get("message"), str) and error["message"]
    assert error.get("retryable") is (error["code"] in RETRYABLE_CODES)
    assert set(error) <= {"code", "message", "retryable", "details"}, error
    if "details" in error:
        assert isinstance(error["details"], dict), error
    if error["code"] == INVALID_PAYLOAD:
        # Tracebacks never reach the client.
        assert "Traceback" not in json.dumps(error)


def _short(value: Any, limit: int = 400) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
