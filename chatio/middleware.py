"""aiohttp middlewares in front of the Socket.IO endpoint."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from multidict import CIMultiDict

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SOCKETIO_PATH = "/socket.io/"


def websocket_compression(enabled: bool) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Drop the client's permessage-deflate offer unless compression is on.

    python-engineio builds aiohttp's ``WebSocketResponse`` with its default
    ``compress=True`` and offers no setting; without an offer in the request
    aiohttp negotiates no extension.
    """
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if enabled or hdrs.SEC_WEBSOCKET_EXTENSIONS not in request.headers:
            return await handler(request)
        headers = CIMultiDict(request.headers)
        del headers[hdrs.SEC_WEBSOCKET_EXTENSIONS]
        return await handler(request.clone(headers=headers))
    return middleware


def refuse_new_sessions(shutting_down: Callable[[], bool]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """While the node shuts down, answer new engine.io handshakes with 503."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (shutting_down() and request.path.startswith(SOCKETIO_PATH)
                and "sid" not in request.query):
            raise web.HTTPServiceUnavailable(text="shutting down")
        return await handler(request)
    return middleware
