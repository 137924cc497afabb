"""An Admin UI client for tests: what ``@socket.io/admin-ui`` receives.

Every event on ``/admin`` is recorded; ``wait(event, predicate)`` returns
the first one (past or future) whose arguments satisfy ``predicate``,
within an explicit timeout.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import socketio

ADMIN = "/admin"
TIMEOUT = 10.0

Predicate = Callable[..., bool]


class AdminClient:
    """A python-socketio client of the ``/admin`` namespace."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False,
                                        handle_sigint=False,
                                        request_timeout=TIMEOUT)
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self.connect_errors: asyncio.Queue[Any] = asyncio.Queue()
        self._changed = asyncio.Condition()
        self.sio.on("*", self._on_event, namespace=ADMIN)
        self.sio.on("connect_error", self._on_connect_error, namespace=ADMIN)

    async def _on_event(self, event: str, *args: Any) -> None:
        async with self._changed:
            self.events.append((event, args))
            self._changed.notify_all()

    async def _on_connect_error(self, data: Any) -> None:
        await self.connect_errors.put(data)

    async def connect(self, url: str, auth: Any,
                      transports: tuple[str, ...] = ("websocket",)) -> None:
        """Connect; raises ``socketio.exceptions.ConnectionError`` if refused."""
        await asyncio.wait_for(self.sio.connect(
            url, auth=auth, namespaces=[ADMIN], transports=list(transports),
            wait_timeout=TIMEOUT), TIMEOUT + 5)

    async def refusal(self, url: str, auth: Any) -> Any:
        """Connect expecting a refusal; the ``connect_error`` data."""
        try:
            await self.connect(url, auth)
        except socketio.exceptions.ConnectionError:
            pass
        else:
            raise AssertionError("the Admin UI accepted the connection")
        return await asyncio.wait_for(self.connect_errors.get(), TIMEOUT)

    async def wait(self, event: str, predicate: Predicate = lambda *a: True,
                   timeout: float = TIMEOUT) -> tuple[Any, ...]:
        """The arguments of the first ``event`` satisfying ``predicate``."""
        async def found() -> tuple[Any, ...]:
            async with self._changed:
                seen = 0
                while True:
                    for name, args in self.events[seen:]:
                        if name == event and predicate(*args):
                            return args
                    seen = len(self.events)
                    await self._changed.wait()
        try:
            return await asyncio.wait_for(found(), timeout)
        except asyncio.TimeoutError:
            names = sorted({name for name, _ in self.events})
            raise AssertionError(
                f"no matching {event!r} within {timeout} s; got {names}"
            ) from None

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.sio.disconnect(), TIMEOUT)
        except Exception:
            pass
