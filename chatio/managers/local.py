"""The single-node client manager."""
from __future__ import annotations

from typing import Any

import socketio

from .volatile import lagging_sids, skip_list


class LocalManager(socketio.AsyncManager):
    """python-socketio's in-process manager, plus volatile emits."""

    async def emit_volatile(self, event: str, data: Any, namespace: str,
                            room: str, skip_sid: str | None = None) -> None:
        """Emit to ``room`` but skip sockets whose queue is deep."""
        skip = skip_list(skip_sid) + lagging_sids(self, namespace, room)
        await self.emit(event, data, namespace=namespace, room=room,
                        skip_sid=skip)
