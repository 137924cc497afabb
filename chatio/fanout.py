"""The fan-out seam: every emit to more than one socket goes through here.

Services see only the ``Fanout`` protocol, so the delivery path (a
python-socketio client manager from ``chatio.managers``) can be replaced
without touching them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

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
    """Implements ``Fanout`` with the server's client manager, which must be
    one of ``chatio.managers`` (they add volatile emits); counts each
    broadcast in ``sio.metrics``."""

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
        self._metrics.broadcast(self._namespace, event)
        await self._sio.manager.emit_volatile(event, data, self._namespace,
                                              room, skip_sid)
