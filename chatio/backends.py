"""Choosing a node's backends: in-process for one node, Redis for a cluster.

``build_backends`` is the one place that decides where history, presence,
typing state, rate limits and cross-node delivery live. Everything else
sees only their interfaces.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from .errors import Unavailable
from .metrics import Metrics
from .presence import MemoryPresenceStore, PresenceStore
from .presence.failover import FailoverPresenceStore
from .presence.redis import RedisPresenceStore
from .ratelimit import MemoryRateLimiter, RateLimiter
from .ratelimit.redis import RedisRateLimiter
from .recovery import MemoryRecoveryStore, RecoveryStore
from .recovery.redis import RedisRecoveryStore
from .redis_client import new_client
from .settings import Settings
from .transport import FrameDelivery, LocalManager, RedisManager
from .store import HistoryStore, build_history_store
from .store.redis import RedisHistoryStore
from .typing_state import MemoryTypingState, TypingState
from .typing_state.failover import FailoverTypingState
from .typing_state.redis import RedisTypingState

# A readiness check returns normally when its dependency works and raises
# ``Unavailable`` saying what is wrong when it does not.
Check = Callable[[], Awaitable[None]]


@dataclasses.dataclass
class Backends:
    """What a node keeps its state in, and how it reaches other nodes."""

    manager: FrameDelivery
    history: HistoryStore
    presence: PresenceStore
    typing: TypingState
    message_limiter: RateLimiter
    typing_limiter: RateLimiter
    checks: dict[str, Check]
    closers: list[Callable[[], Awaitable[None]]] = dataclasses.field(
        default_factory=list)
    # Records of dropped sockets, for connection state recovery.
    recovery: RecoveryStore = dataclasses.field(
        default_factory=MemoryRecoveryStore)
    # The in-memory presence store of a single node, saved across restarts.
    local_presence: MemoryPresenceStore | None = None

    async def close(self) -> None:
        """Release connections the backends hold (the history store is
        closed separately, after the last event ran)."""
        for closer in reversed(self.closers):
            await closer()


def build_backends(settings: Settings, metrics: Metrics) -> Backends:
    """The backends ``settings`` ask for, not yet opened; ``metrics``
    records what the delivery path does."""
    if settings.clustered:
        return _cluster(settings, metrics)
    return _single_node(settings, metrics)


def _single_node(settings: Settings, metrics: Metrics) -> Backends:
    history = build_history_store(settings)
    presence = MemoryPresenceStore()
    return Backends(
        manager=LocalManager(metrics=metrics),
        history=history,
        presence=presence,
        typing=MemoryTypingState(),
        message_limiter=MemoryRateLimiter(settings.rate_messages),
        typing_limiter=MemoryRateLimiter(settings.rate_typing),
        checks={"history": history.ping},
        local_presence=presence,
    )


def _cluster(settings: Settings, metrics: Metrics) -> Backends:
    url, prefix = settings.redis_url, settings.redis_prefix
    assert url is not None
    # Cross-node delivery routes per room over sharded pub/sub: on a Redis
    # Cluster each room's channel lives on its slot's shard, found from any
    # of the URL's seeds.
    manager = RedisManager(url, f"{prefix}:socketio",
                           metrics=metrics,
                           on_publish_failure=metrics.redis_publish_failed,
                           on_reconnect=metrics.redis_reconnected)
    history = RedisHistoryStore(url, prefix, settings.history_retention)
    client = new_client(url)

    presence = FailoverPresenceStore(
        RedisPresenceStore(client, prefix, settings.node_id,
                           ttl=settings.presence_ttl,
                           grace=settings.presence_grace),
        settings.node_id)

    async def pubsub() -> None:
        if not manager.listening:
            raise Unavailable(f"not subscribed: {manager.listen_error}")

    async def shared_presence() -> None:
        if presence.degraded:
            raise Unavailable("presence falls back to this node's own "
                              "connections until Redis answers")

    async def close_client() -> None:
        await client.aclose()

    return Backends(
        manager=manager,
        history=history,
        presence=presence,
        typing=FailoverTypingState(RedisTypingState(client, prefix)),
        message_limiter=RedisRateLimiter(
            client, f"{prefix}:messages", settings.rate_messages,
            MemoryRateLimiter(settings.rate_messages)),
        typing_limiter=RedisRateLimiter(
            client, f"{prefix}:typing", settings.rate_typing,
            MemoryRateLimiter(settings.rate_typing)),
        checks={"history": history.ping, "pubsub": pubsub,
                "presence": shared_presence},
        recovery=RedisRecoveryStore(client, prefix),
        closers=[close_client, manager.close],
    )
