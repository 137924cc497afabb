"""A thin test client for the /chat namespace over python-socketio.

It is a ``MultiClient`` bound to ``/chat`` alone, with the namespace left
out of every call. Every event the server sends lands in a per-event
``asyncio.Queue``, so a test waits for what it expects with an explicit
timeout instead of sleeping.
"""
from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import socketio

from chatio.constants import CHAT_NAMESPACE

from .acks import assert_error, assert_ok, check_error_object
from .multi import _UNSET, TIMEOUT, MultiClient

__all__ = ["TIMEOUT", "ChatClient", "assert_error", "assert_ok",
           "check_error_object"]

NS = CHAT_NAMESPACE


class ChatClient:
    """One python-socketio ``AsyncClient`` connected to ``/chat``."""

    def __init__(self, transports: tuple[str, ...] = ("websocket",)) -> None:
        self._multi = MultiClient((NS,), transports)

    @property
    def sio(self) -> socketio.AsyncClient:
        return self._multi.sio

    @property
    def transports(self) -> list[str]:
        return self._multi.transports

    @property
    def connect_errors(self) -> asyncio.Queue[Any]:
        return self._multi.connect_errors[NS]

    @property
    def disconnected(self) -> asyncio.Event:
        return self._multi.disconnected[NS]

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
        await self._multi.connect(url, token, location=location, auth=auth,
                                  headers=headers, query=query,
                                  timeout=timeout)
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
        await self._multi.abort()
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
        return self._multi.connected(NS)

    async def close(self) -> None:
        """Leave /chat and drop the connection without waiting for a
        pending long-poll request to come back."""
        await self._multi.close()

    async def wait_disconnected(self, timeout: float = TIMEOUT) -> None:
        await self._multi.wait_disconnected(NS, timeout)

    # -- requests ---------------------------------------------------------

    async def request(self, event: str, *args: Any) -> asyncio.Future[Any]:
        """Emit ``event`` with exactly ``args`` and an ack callback; return a
        future for the ack without waiting for it."""
        return await self._multi.request(NS, event, *args)

    async def call(self, event: str, *args: Any,
                   timeout: float = TIMEOUT) -> Any:
        """Emit ``event`` with exactly ``args`` and return its single ack."""
        return await self._multi.call(NS, event, *args, timeout=timeout)

    ack = staticmethod(MultiClient.ack)

    async def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` with exactly ``args`` and no ack callback."""
        await self._multi.emit(NS, event, *args)

    async def raw_request(self, body: str) -> asyncio.Future[Any]:
        """Send a hand-written Socket.IO EVENT packet to /chat.

        ``body`` is the packet's JSON array text, for example
        ``'["disconnect",{}]'``. The packet gets an ack id from the client's
        own ack registry, so the server's ack is routed back to the future.
        """
        return await self._multi.raw_request(NS, body)

    async def raw_call(self, body: str, timeout: float = TIMEOUT) -> Any:
        return await self._multi.raw_call(NS, body, timeout)

    async def raw_send(self, body: str) -> None:
        """Send a hand-written EVENT packet without an ack id."""
        await self._multi.raw_send(NS, body)

    # -- conveniences -----------------------------------------------------

    async def join(self, room: str, **fields: Any) -> dict[str, Any]:
        return await self._multi.join(room, **fields)

    async def leave(self, room: str) -> dict[str, Any]:
        return await self._multi.leave(room)

    async def send(self, room: str, text: str,
                   client_id: str | None = None) -> dict[str, Any]:
        """Send a message and return its (checked ok) ack."""
        return await self._multi.send(room, text, client_id)

    async def history(self, room: str, **fields: Any) -> dict[str, Any]:
        return await self._multi.history(room, **fields)

    async def roundtrip(self) -> None:
        """Make one request and wait for its ack.

        Events of one socket are handled in order, so anything the server
        emitted to this socket because of earlier requests has arrived once
        this returns.
        """
        await self._multi.roundtrip(NS)

    # -- received events --------------------------------------------------

    async def next(self, event: str, timeout: float = TIMEOUT) -> Any:
        """The next ``event`` the server emitted to this socket."""
        return await self._multi.next(NS, event, timeout)

    async def collect(self, event: str, count: int,
                      timeout: float = TIMEOUT) -> list[Any]:
        """The next ``count`` ``event``s, within one overall timeout."""
        return await self._multi.collect(NS, event, count, timeout)

    def pending(self, event: str) -> list[Any]:
        """Every ``event`` received and not consumed yet (no waiting)."""
        return self._multi.pending(NS, event)
