"""The Redis client manager's own guarantees, against a real redis-server."""
from __future__ import annotations

import asyncio

import socketio

from chatio.transport import RedisManager
from support import free_port


async def test_a_failed_publish_is_counted_and_does_not_raise():
    failures = []
    url = f"redis://127.0.0.1:{free_port('127.0.0.1')}/0"  # nobody listens
    manager = RedisManager(url, "test:socketio",
                           on_publish_failure=lambda: failures.append(1))
    try:
        await manager._publish({"method": "emit", "event": "message"})
        await manager._publish({"method": "emit", "event": "message"})
    finally:
        await manager.close()
    assert manager.publish_failures == 2
    assert failures == [1, 1]


async def test_resubscribes_promptly_after_redis_returns(own_redis_server):
    reconnects = asyncio.Event()
    manager = RedisManager(own_redis_server.url, "test:socketio",
                           on_reconnect=reconnects.set)
    server = socketio.AsyncServer(async_mode="aiohttp",
                                  client_manager=manager)
    manager.start()
    try:
        await _until(lambda: manager.listening)
        own_redis_server.kill()
        await _until(lambda: not manager.listening)
        assert manager.listen_error
        own_redis_server.start()
        await asyncio.wait_for(reconnects.wait(), 10)
        assert manager.listening and manager.reconnects == 1
    finally:
        await manager.close()
    assert server.manager is manager


async def _until(condition, timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout)
