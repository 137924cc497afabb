"""Typed keys for the state an aiohttp application holds."""
from __future__ import annotations

from aiohttp import web

from .presence import MemoryPresenceStore
from .ratelimit import RateLimiter
from .server import ChatioServer
from .settings import Settings
from .store import HistoryStore
from .tokens import TokenIssuer


class Lifecycle:
    """Mutable run state of the node."""

    def __init__(self) -> None:
        self.shutting_down = False


SETTINGS = web.AppKey("settings", Settings)
SIO = web.AppKey("sio", ChatioServer)
STORE = web.AppKey("history_store", HistoryStore)
ISSUER = web.AppKey("token_issuer", TokenIssuer)
GUEST_LIMITER = web.AppKey("guest_limiter", RateLimiter)
PRESENCE_STORE = web.AppKey("presence_store", MemoryPresenceStore)
SWEEP_JOBS = web.AppKey("sweep_jobs", list)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
