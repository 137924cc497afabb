"""The application factory: ``create_app()`` builds one chatio node.

Gunicorn's aiohttp worker awaits ``chatio.app:create_app``; ``chatio serve``
calls it too. Resources open and close in ``cleanup_ctx``; on SIGTERM the
node stops accepting, drops every client transport (so clients reconnect at
once), finishes the events already received, then closes its stores.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from . import api, openapi, server_api
from .appkeys import (BACKENDS, CHANGES, CHAT, GUEST_LIMITER, GUEST_REFUSALS, ISSUER,
                      LIFECYCLE, PRESENCE, RECEIPTS, SETTINGS, SIO, SWEEP_JOBS,
                      Lifecycle)
from .backends import build_backends
from .constants import CHAT_NAMESPACE, PRESENCE_NAMESPACE, TYPING_NAMESPACE
from .log_limits import LogLimiter
from .logs import configure_logging
from .origins import request_origins
from .metrics import Metrics
from .middleware import refuse_new_sessions
from .namespaces.chat import ChatNamespace
from .namespaces.presence import PresenceNamespace
from .namespaces.typing_ns import TypingNamespace
from .release import release
from .presence.snapshot import load_snapshot, save_snapshot
from .ratelimit import MemoryRateLimiter
from .recovery import MemoryRecoveryStore
from .recovery.snapshot import load_snapshot as load_recovery
from .recovery.snapshot import save_snapshot as save_recovery
from .secret_file import ensure_data_dir, load_or_create_secret
from .services.changes import ChangeService
from .services.chat import ChatService
from .services.reads import ReadService
from .services.receipts import ReceiptCoalescer
from .services.recovery import SessionRecovery
from .services.presence import PresenceService
from .services.typing_indicator import TypingService
from .settings import Settings
from .store.instrumented import InstrumentedHistoryStore
from .sweeper import sweep_forever, sweep_interval
from .tokens import TokenIssuer
from .transport import ChatioServer, NamespaceFanout, RedisManager
from .web import add_page_routes

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
    settings.check()
    ensure_data_dir(settings.data_dir)
    secret = settings.secret or load_or_create_secret(settings.data_dir)
    issuer = TokenIssuer(secret, settings.token_ttl)
    metrics = Metrics(settings.node_id)
    backends = build_backends(settings, metrics)
    lifecycle = Lifecycle()

    history = InstrumentedHistoryStore(backends.history, metrics)
    recovery = SessionRecovery(backends.recovery, history,
                               settings.recovery_window) \
        if settings.recovery_window > 0 else None
    sio = ChatioServer(
        metrics=metrics, manager=backends.manager,
        allowed_origins=lambda request: request_origins(
            request, settings.cors_origins, settings.trusted_proxies),
        max_payload=settings.max_payload, max_buffered=settings.max_buffered,
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        ws_compression=settings.ws_compression,
        recovery=recovery,
    )
    presence = PresenceService(
        backends.presence, NamespaceFanout(sio, PRESENCE_NAMESPACE, metrics),
        settings.node_id, settings.presence_grace)
    typing = TypingService(
        backends.typing, NamespaceFanout(sio, TYPING_NAMESPACE, metrics), presence,
        backends.typing_limiter, settings.typing_ttl)
    chat_fanout = NamespaceFanout(sio, CHAT_NAMESPACE, metrics)
    chat = ChatService(history, backends.message_limiter, chat_fanout,
                       listeners=[presence, typing])  # presence first
    changes = ChangeService(history, backends.message_limiter, chat_fanout)
    receipts = ReceiptCoalescer(chat_fanout, settings.receipt_interval)
    # Reads are cheap and frequent, like typing: they share its limit.
    reads = ReadService(history, backends.typing_limiter, chat_fanout,
                        receipts)
    auth = {"issuer": issuer, "trusted_proxies": settings.trusted_proxies}
    sio.add_namespace(ChatNamespace(
        chat, changes, reads, max_message_chars=settings.max_message_chars,
        **auth))
    sio.add_namespace(PresenceNamespace(presence, **auth))
    sio.add_namespace(TypingNamespace(typing, **auth))

    app = web.Application(middlewares=[
        refuse_new_sessions(lambda: lifecycle.shutting_down),
    ])
    app[SETTINGS] = settings
    app[SIO] = sio
    app[BACKENDS] = backends
    app[ISSUER] = issuer
    app[GUEST_LIMITER] = MemoryRateLimiter(settings.rate_guest)
    app[GUEST_REFUSALS] = LogLimiter(api.log)
    app[LIFECYCLE] = lifecycle
    app[CHAT] = chat
    app[PRESENCE] = presence
    app[RECEIPTS] = receipts
    app[CHANGES] = changes
    sio.attach(app)
    app.add_routes(api.routes)
    app.add_routes(server_api.routes)
    app.add_routes(openapi.routes)
    # Open on the node's port for scrapers; the public proxy must not expose it.
    app.router.add_get("/metrics", metrics.serve)
    add_page_routes(app)
    app[SWEEP_JOBS] = [presence.expire, typing.expire]
    if sio.reconnections is not None:
        journal = sio.reconnections.journal

        async def prune_journal() -> None:
            journal.prune()
        app[SWEEP_JOBS].append(prune_journal)
    # Torn down in reverse: the sweeper stops before presence is saved.
    app.cleanup_ctx.append(_history_store)
    app.cleanup_ctx.append(_shared_backends)
    if backends.local_presence is not None:
        app.cleanup_ctx.append(_presence_snapshot)
    if isinstance(backends.recovery, MemoryRecoveryStore):
        app.cleanup_ctx.append(_recovery_snapshot)
    app.cleanup_ctx.append(_sweeper)
    app.cleanup_ctx.append(_receipts)

    if settings.admin_enabled:
        app.cleanup_ctx.append(_admin_ui(sio, settings))
    app.on_shutdown.append(_drop_clients)
    return app


async def _history_store(app: web.Application) -> AsyncIterator[None]:
    settings, store = app[SETTINGS], app[BACKENDS].history
    await store.open()
    log.info("history store opened", extra={"fields": {
        "backend": _backend_name(settings)}})
    yield
    await store.close()
    log.info("history store closed")


def _backend_name(settings: Settings) -> str:
    return "redis" if settings.clustered else settings.history_backend


def log_started(settings: Settings, host: str | None = None,
                port: int | None = None) -> None:
    """Log ``node started`` once the node listens (on ``host``:``port``,
    by default the settings' own)."""
    log.info("node started", extra={"fields": {
        "host": settings.host if host is None else host,
        "port": settings.port if port is None else port,
        "version": release(), "backend": _backend_name(settings)}})


async def _shared_backends(app: web.Application) -> AsyncIterator[None]:
    backends = app[BACKENDS]
    if isinstance(backends.manager, RedisManager):
        backends.manager.start()
    yield
    await backends.close()


async def _presence_snapshot(app: web.Application) -> AsyncIterator[None]:
    settings, store = app[SETTINGS], app[BACKENDS].local_presence
    assert store is not None
    restored = load_snapshot(store, settings.data_dir)
    if restored:
        log.info("presence restored", extra={"fields": {"users": restored}})
    yield
    saved = save_snapshot(store, settings.data_dir, settings.presence_grace)
    log.info("presence saved", extra={"fields": {"users": saved}})


async def _recovery_snapshot(app: web.Application) -> AsyncIterator[None]:
    settings, store = app[SETTINGS], app[BACKENDS].recovery
    assert isinstance(store, MemoryRecoveryStore)
    restored = load_recovery(store, settings.data_dir)
    if restored:
        log.info("recovery records restored",
                 extra={"fields": {"sockets": restored}})
    yield
    saved = save_recovery(store, settings.data_dir)
    log.info("recovery records saved", extra={"fields": {"sockets": saved}})


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    task = asyncio.create_task(sweep_forever(
        app[SWEEP_JOBS],
        sweep_interval(settings.presence_grace, settings.typing_ttl)))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _receipts(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[RECEIPTS].close()

def _admin_ui(sio: ChatioServer, settings: Settings) -> Callable[
        [web.Application], AsyncIterator[None]]:
    """The Socket.IO Admin UI on /admin, reporting as this node's id."""
    admin = sio.instrument(
        auth={"username": settings.admin_user or "admin",
              "password": settings.admin_password},
        mode=settings.admin_mode, read_only=True, server_id=settings.node_id)

    async def run(app: web.Application) -> AsyncIterator[None]:
        admin.start()
        log.info("Admin UI on /admin", extra={"fields": {
            "mode": settings.admin_mode}})
        yield
        await admin.shutdown()
    return run


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
