"""How chatio connects to Redis: one place for timeouts and retry policy."""
from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

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

# What a call to an unreachable or failing Redis raises.
REDIS_FAILURES = (RedisError, OSError, TimeoutError)


def new_client(url: str, *, retries: int = 0,
               command_timeout: float | None = COMMAND_TIMEOUT) -> aioredis.Redis:
    """A client that fails fast instead of retrying behind the caller's back.

    A timed-out write must surface as an error, never be sent twice
    unnoticed: a message append's retry is the client's job, with its
    ``client_id``. Callers whose commands are safe to repeat may ask for
    ``retries``. ``command_timeout=None`` suits a pub/sub connection, whose
    reads block until a message arrives.
    """
    options = {}
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
