"""The application factory: ``create_app()`` builds one chatio node.

Gunicorn's aiohttp worker awaits ``chatio.app:create_app``; ``chatio serve``
calls it too. Resources open and close in ``cleanup_ctx``; on SIGTERM the
node stops accepting, drops every client transport (so clients reconnect at
once), finishes the events already received, then closes its stores.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from . import api
from .appkeys import GUEST_LIMITER, ISSUER, LIFECYCLE, SETTINGS, SIO, STORE, Lifecycle
from .constants import CHAT_NAMESPACE
from .fanout import SocketIOFanout
from .logs import configure_logging
from .middleware import refuse_new_sessions, websocket_compression
from .namespaces.chat import ChatNamespace
from .ratelimit import MemoryRateLimiter
from .secret_file import load_or_create_secret
from .server import ChatioServer
from .services.chat import ChatService
from .settings import Settings
from .store import build_history_store
from .tokens import TokenIssuer

log = logging.getLogger("chatio.app")

# How CHATIO_SHUTDOWN_TIMEOUT is shared on SIGTERM: finishing received events,
# then the HTTP server's own shutdown; the rest is margin for closing stores.
EVENTS_SHARE = 0.4
HTTP_SHARE = 0.5


async def create_app(settings: Settings | None = None) -> web.Application:
    """Build a node; with no settings, read them from the environment and
    set up JSON logging (the gunicorn path)."""
    if settings is None:
        settings = Settings.from_env()
        configure_logging(settings.log_level, settings.node_id)
    secret = settings.secret or load_or_create_secret(settings.data_dir)
    issuer = TokenIssuer(secret, settings.token_ttl)
    store = build_history_store(settings)
    lifecycle = Lifecycle()

    sio = ChatioServer(
        cors_allowed_origins=settings.cors_allowed,
        max_http_buffer_size=settings.max_payload,
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        namespaces=[CHAT_NAMESPACE],  # "/" and others are refused
        logger=False, engineio_logger=False,
    )
    chat = ChatService(store, MemoryRateLimiter(settings.rate_messages),
                       SocketIOFanout(sio, CHAT_NAMESPACE))
    sio.register_namespace(ChatNamespace(
        chat, issuer=issuer, trusted_proxies=settings.trusted_proxies,
        max_message_chars=settings.max_message_chars))

    app = web.Application(middlewares=[
        refuse_new_sessions(lambda: lifecycle.shutting_down),
        websocket_compression(settings.ws_compression),
    ])
    app[SETTINGS] = settings
    app[SIO] = sio
    app[STORE] = store
    app[ISSUER] = issuer
    app[GUEST_LIMITER] = MemoryRateLimiter(settings.rate_guest)
    app[LIFECYCLE] = lifecycle
    sio.attach(app)
    app.add_routes(api.routes)
    app.cleanup_ctx.append(_history_store)
    app.on_shutdown.append(_drop_clients)
    return app


async def _history_store(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE]
    await store.open()
    log.info("node started", extra={"fields": {
        "backend": app[SETTINGS].history_backend}})
    yield
    await store.close()
    log.info("history store closed")


async def _drop_clients(app: web.Application) -> None:
    settings, sio = app[SETTINGS], app[SIO]
    app[LIFECYCLE].shutting_down = True
    dropped = await sio.drop_transports()
    try:
        await asyncio.wait_for(sio.lanes.wait_all(),
                               settings.shutdown_timeout * EVENTS_SHARE)
    except asyncio.TimeoutError:
        log.warning("events still running at shutdown",
                    extra={"fields": {"lanes": len(sio.lanes)}})
    log.info("clients dropped for shutdown", extra={"fields": {"sockets": dropped}})
