"""How chatio connects to Redis: one place for timeouts and retry policy."""
from __future__ import annotations

import asyncio
import inspect
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .settings import REDIS_CLUSTER_SCHEMES

try:
    from redis.maint_notifications import MaintNotificationsConfig
except ImportError:  # redis-py before 7 has no maintenance notifications
    MaintNotificationsConfig = None

# Seconds to wait for Redis before a call fails.
CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 5.0

# Connections one client may open. More concurrent calls wait for a free
# connection (up to COMMAND_TIMEOUT) instead of failing: a burst of joins
# must queue, not answer UNAVAILABLE.
MAX_CONNECTIONS = 64

# A client of one Redis server or of a Redis Cluster: the stores use only
# what both offer (commands, scripts whose keys share one slot, pipelines of
# one slot).
RedisClient = aioredis.Redis | RedisCluster

# What a call to an unreachable or failing Redis raises.
REDIS_FAILURES = (RedisError, OSError, TimeoutError)


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster (``redis+cluster://`` or
    ``rediss+cluster://``)."""
    return url.partition("://")[0].lower() in REDIS_CLUSTER_SCHEMES


def new_client(url: str, *, retries: int = 0,
               command_timeout: float | None = COMMAND_TIMEOUT) -> RedisClient:
    """A client that fails fast instead of retrying behind the caller's back.

    A timed-out write must surface as an error, never be sent twice
    unnoticed: a message append's retry is the client's job, with its
    ``client_id``. Callers whose commands are safe to repeat may ask for
    ``retries``. ``command_timeout=None`` suits a pub/sub connection, whose
    reads block until a message arrives. A ``redis+cluster://`` URL gives a
    Redis Cluster client (``new_cluster_client``).
    """
    if is_cluster_url(url):
        return new_cluster_client(url, retries=retries,
                                  command_timeout=command_timeout)
    options: dict[str, Any] = {}
    if MaintNotificationsConfig is not None:
        # With maintenance notifications on (redis-py's default), the pool
        # hands out connections that Redis closed without checking them, so
        # the first command after a Redis restart fails. Off, a closed
        # connection is noticed and replaced before use.
        options["maint_notifications_config"] = MaintNotificationsConfig(
            enabled=False)
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=COMMAND_TIMEOUT,
        retry=Retry(NoBackoff(), retries),
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=command_timeout, **options)
    return aioredis.Redis.from_pool(pool)


def pubsub_url(url: str) -> str:
    """The URL classic pub/sub uses: ``url`` itself for one server; for a
    Redis Cluster, its first seed as a plain ``redis://`` (``rediss://``)
    URL. A Redis Cluster forwards every ``PUBLISH`` to all of its nodes, so
    a subscriber on any one node receives every channel."""
    if not is_cluster_url(url):
        return url
    parts = urlsplit(url)
    credentials, _, seeds = parts.netloc.rpartition("@")
    seed = seeds.split(",", 1)[0]
    netloc = f"{credentials}@{seed}" if credentials else seed
    scheme = parts.scheme.lower().removesuffix("+cluster")
    return f"{scheme}://{netloc}/0"


class QueueingRedisCluster(RedisCluster):
    """redis-py's cluster client, whose per-node pools refuse a command
    when every connection is busy, made to queue it instead (up to
    ``COMMAND_TIMEOUT``), as the single-server client's blocking pool does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Never more commands in flight than one node's pool can carry.
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            await asyncio.wait_for(self._slots.acquire(), COMMAND_TIMEOUT)
        except asyncio.TimeoutError as exc:
            raise redis.exceptions.TimeoutError(
                "no free Redis Cluster connection") from exc
        try:
            if self._initialize:
                # Load the slot map before the command is routed: a command
                # routed by the seed nodes while another loads the map finds
                # its connection closed under it.
                await self.initialize()
            return await super().execute_command(*args, **kwargs)
        finally:
            self._slots.release()


def new_cluster_client(url: str, *, retries: int = 0,
                       command_timeout: float | None = COMMAND_TIMEOUT
                       ) -> RedisCluster:
    """A Redis Cluster client for ``redis+cluster://[user:pass@]host:port
    [,host:port...]`` (``rediss+cluster://`` for TLS), with the same
    fail-fast policy as ``new_client``: a failed command is not repeated
    unless ``retries`` ask for it. Redirections (``MOVED``/``ASK``) are
    followed, and a connection failure makes the next command reload the
    slot map, so a promoted replica is found. Slots without a live master
    fail on their own; the others keep answering."""
    parts = urlsplit(url)
    seeds = parts.netloc.rpartition("@")[2]
    startup = []
    for seed in seeds.split(","):
        host, _, port = seed.rpartition(":")
        startup.append(ClusterNode(host.strip("[]"), int(port)))
    options: dict[str, Any] = {}
    accepted = inspect.signature(RedisCluster.__init__).parameters
    if MaintNotificationsConfig is not None and (
            "maint_notifications_config" in accepted):
        options["maint_notifications_config"] = MaintNotificationsConfig(
            enabled=False)
    if int(redis.__version__.split(".")[0]) < 6:
        # Before redis-py 6 this, not ``retry``, bounds the command loop.
        options["cluster_error_retry_attempts"] = retries
    if parts.username:
        options["username"] = unquote(parts.username)
    if parts.password:
        options["password"] = unquote(parts.password)
    return QueueingRedisCluster(
        startup_nodes=startup,
        require_full_coverage=False,
        max_connections=MAX_CONNECTIONS,
        retry=Retry(NoBackoff(), retries),
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=command_timeout,
        ssl=parts.scheme.lower().startswith("rediss"),
        **options)
