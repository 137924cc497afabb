"""The fan-out seam: every emit to more than one socket goes through here.

Services see only the ``Fanout`` protocol, so the delivery path (the stock
Socket.IO manager today) can be replaced without touching them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .constants import VOLATILE_QUEUE_LIMIT

if TYPE_CHECKING:
    from .server import ChatioServer


class Fanout(Protocol):
    """Room membership and delivery for one namespace."""

    async def enter(self, sid: str, room: str) -> None: ...

    async def leave(self, sid: str, room: str) -> None: ...

    async def broadcast(self, event: str, data: Any, room: str,
                        skip_sid: str | None = None) -> None:
        """Deliver ``event`` to every socket in ``room`` but ``skip_sid``."""

    async def broadcast_volatile(self, event: str, data: Any, room: str,
                                 skip_sid: str | None = None) -> None:
        """Like ``broadcast``, but skip recipients that are falling behind:
        for ephemeral state that the next update supersedes."""


class SocketIOFanout:
    """Implements ``Fanout`` with python-socketio's client manager; counts
    each broadcast in ``sio.metrics``."""

    def __init__(self, sio: ChatioServer, namespace: str) -> None:
        self._sio = sio
        self._namespace = namespace
        self._metrics = sio.metrics

    async def enter(self, sid: str, room: str) -> None:
        await self._sio.enter_room(sid, room, namespace=self._namespace)

    async def leave(self, sid: str, room: str) -> None:
        await self._sio.leave_room(sid, room, namespace=self._namespace)

    async def broadcast(self, event: str, data: Any, room: str,
                        skip_sid: str | None = None) -> None:
        self._metrics.broadcast(self._namespace, event)
        await self._sio.emit(event, data, to=room, skip_sid=skip_sid,
                             namespace=self._namespace)

    async def broadcast_volatile(self, event: str, data: Any, room: str,
                                 skip_sid: str | None = None) -> None:
        skip = [skip_sid] if skip_sid is not None else []
        slow = 0
        sockets = self._sio.eio.sockets
        for sid, eio_sid in self._sio.manager.get_participants(
                self._namespace, room):
            sock = sockets.get(eio_sid)
            if sock is not None and sock.queue.qsize() >= VOLATILE_QUEUE_LIMIT:
                skip.append(sid)
                slow += sid != skip_sid
        self._metrics.broadcast(self._namespace, event)
        self._metrics.volatile_skipped(self._namespace, slow)
        await self._sio.emit(event, data, to=room, skip_sid=skip,
                             namespace=self._namespace)
