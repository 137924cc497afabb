"""The single-node client manager."""
from __future__ import annotations

from typing import Any

import socketio

from .accounting import count_deliveries
from .volatile import lagging_sids, skip_list


class LocalManager(socketio.AsyncManager):
    """python-socketio's in-process manager, plus volatile emits and
    delivery counts."""

    async def emit(self, event: str, data: Any, namespace: str,
                   room: Any = None, skip_sid: Any = None,
                   callback: Any = None, to: Any = None,
                   **kwargs: Any) -> None:
        room = to or room
        count_deliveries(self, namespace, room, skip_sid)
        await super().emit(event, data, namespace, room=room,
                           skip_sid=skip_sid, callback=callback, **kwargs)

    async def emit_volatile(self, event: str, data: Any, namespace: str,
                            room: str, skip_sid: str | None = None) -> None:
        """Emit to ``room`` but skip sockets whose queue is deep."""
        skip = skip_list(skip_sid)
        skip += lagging_sids(self, namespace, room, skip)
        await self.emit(event, data, namespace=namespace, room=room,
                        skip_sid=skip)
