"""aiohttp middlewares in front of the Socket.IO endpoint."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SOCKETIO_PATH = "/socket.io/"


def refuse_new_sessions(shutting_down: Callable[[], bool]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """While the node shuts down, answer new engine.io handshakes with 503."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (shutting_down() and request.path.startswith(SOCKETIO_PATH)
                and "sid" not in request.query):
            raise web.HTTPServiceUnavailable(text="shutting down")
        return await handler(request)
    return middleware
