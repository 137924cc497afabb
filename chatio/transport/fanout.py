"""``NamespaceFanout``: the ``chatio.fanout.Fanout`` of one namespace."""
from __future__ import annotations

from typing import Any

from ..metrics import Metrics
from .delivery import FrameDelivery
from .server import ChatioServer


class NamespaceFanout:
    """Room membership and broadcasts of ``namespace`` on ``sio``, whose
    client manager is a ``FrameDelivery``; counts each broadcast."""

    def __init__(self, sio: ChatioServer, namespace: str,
                 metrics: Metrics) -> None:
        assert isinstance(sio.manager, FrameDelivery)
        self._sio = sio
        self._manager = sio.manager
        self._namespace = namespace
        self._metrics = metrics

    async def enter(self, sid: str, room: str) -> None:
        await self._sio.enter_room(sid, room, namespace=self._namespace)

    async def leave(self, sid: str, room: str) -> None:
        await self._sio.leave_room(sid, room, namespace=self._namespace)

    async def broadcast(self, event: str, data: Any, room: str,
                        skip_sid: str | None = None) -> None:
        self._metrics.broadcast(self._namespace, event)
        await self._manager.emit(event, data, namespace=self._namespace,
                                 room=room, skip_sid=skip_sid)

    async def broadcast_volatile(self, event: str, data: Any, room: str,
                                 skip_sid: str | None = None) -> None:
        self._metrics.broadcast(self._namespace, event)
        await self._manager.emit_volatile(event, data, self._namespace,
                                          room, skip_sid)
