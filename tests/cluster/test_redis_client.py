"""How chatio's Redis clients behave under bursts and restarts, against a
real redis-server."""
from __future__ import annotations

import asyncio

from chatio.redis_client import MAX_CONNECTIONS, new_client


async def test_a_burst_beyond_the_pool_waits_instead_of_failing(
        redis_server, redis_prefix):
    client = new_client(redis_server.url)
    try:
        # Each call holds its connection for 50 ms (a blocking pop that
        # times out), so most of the burst must wait for a free one.
        burst = 3 * MAX_CONNECTIONS
        results = await asyncio.gather(*(
            client.blpop([f"{redis_prefix}:nothing"], 0.05)
            for _ in range(burst)), return_exceptions=True)
        assert results == [None] * burst
        pool = client.connection_pool
        assert len(pool._available_connections) <= MAX_CONNECTIONS
    finally:
        await client.aclose()


async def test_the_first_command_after_a_redis_restart_succeeds(
        own_redis_server):
    client = new_client(own_redis_server.url)
    try:
        assert await client.ping() is True
        own_redis_server.kill()
        # Started from a thread, so the event loop runs meanwhile, as it
        # does during any real restart, and sees the connection close.
        await asyncio.to_thread(own_redis_server.start)
        # The pooled connection was closed by the old process; it is
        # replaced before use instead of failing this command.
        assert await client.ping() is True
    finally:
        await client.aclose()
