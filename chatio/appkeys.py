"""Typed keys for the state an aiohttp application holds."""
from __future__ import annotations

from aiohttp import web

from .backends import Backends
from .log_limits import LogLimiter
from .ratelimit import RateLimiter
from .services.changes import ChangeService
from .services.chat import ChatService
from .services.presence import PresenceService
from .services.receipts import ReceiptCoalescer
from .transport import ChatioServer
from .settings import Settings
from .tokens import TokenIssuer


class Lifecycle:
    """Mutable run state of the node."""

    def __init__(self) -> None:
        self.shutting_down = False


SETTINGS = web.AppKey("settings", Settings)
SIO = web.AppKey("sio", ChatioServer)
BACKENDS = web.AppKey("backends", Backends)
ISSUER = web.AppKey("token_issuer", TokenIssuer)
GUEST_LIMITER = web.AppKey("guest_limiter", RateLimiter)
GUEST_REFUSALS = web.AppKey("guest_refusals", LogLimiter)
SWEEP_JOBS = web.AppKey("sweep_jobs", list)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
CHAT = web.AppKey("chat", ChatService)
PRESENCE = web.AppKey("presence", PresenceService)
RECEIPTS = web.AppKey("receipts", ReceiptCoalescer)
CHANGES = web.AppKey("changes", ChangeService)
