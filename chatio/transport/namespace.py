"""``SocketIONamespace``: an ``EventNamespace`` as python-socketio sees it."""
from __future__ import annotations

from typing import Any

import socketio

from .. import constants as c
from ..metrics import Metrics
from ..namespaces.base import EventNamespace
from ..tokens import TokenError


class SocketIONamespace(socketio.AsyncNamespace):
    """Connects and disconnects sockets of ``handler``'s namespace; a
    refused token becomes ``connect_error`` with its code, and is counted.
    Events never come here: ``ChatioServer`` dispatches them itself."""

    def __init__(self, handler: EventNamespace, metrics: Metrics) -> None:
        super().__init__(handler.namespace)
        self.handler = handler
        self._metrics = metrics

    async def on_connect(self, sid: str, environ: dict[str, Any],
                         auth: Any = None) -> None:
        try:
            await self.handler.connect(sid, environ, auth)
        except TokenError as exc:
            self._metrics.connection_refused(exc.code)
            raise socketio.exceptions.ConnectionRefusedError(
                c.REFUSAL_MESSAGE, {"code": exc.code}) from None

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        await self.handler.disconnect(sid, reason)
