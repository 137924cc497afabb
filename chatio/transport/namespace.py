"""``SocketIONamespace``: an ``EventNamespace`` as python-socketio sees it."""
from __future__ import annotations

from typing import Any

import socketio

from ..namespaces.base import EventNamespace


class SocketIONamespace(socketio.AsyncNamespace):
    """Tells ``handler`` its sockets left. Connects and events never come
    here: ``ChatioServer`` handles them itself."""

    def __init__(self, handler: EventNamespace) -> None:
        super().__init__(handler.namespace)
        self.handler = handler

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        await self.handler.disconnect(sid, reason)
