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


async def _node(url: str) -> tuple[RedisManager, socketio.AsyncServer]:
    manager = RedisManager(url, "test:socketio")
    server = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)
    manager.start()
    await _until(lambda: manager.listening)
    return manager, server


def _room_emit(manager: RedisManager, room: str) -> dict:
    return {"method": "emit", "event": "message", "data": [{"n": 1}],
            "binary": False, "namespace": "/chat", "room": room,
            "skip_sid": None, "callback": None, "host_id": manager.host_id}


async def test_a_publication_right_after_enter_room_returns_is_heard(
        redis_server):
    sender, _ = await _node(redis_server.url)
    receiver, _ = await _node(redis_server.url)
    try:
        for n in range(20):
            sid, room = f"sid{n}", f"room{n}"
            receiver.basic_enter_room(sid, "/chat", None, eio_sid=f"eio{n}")
            before = receiver.sharded.received
            await receiver.enter_room(sid, "/chat", room)
            # No round trip through a client: the publish follows at once.
            await sender._publish(_room_emit(sender, room))
            await _until(lambda: receiver.sharded.received > before, 5)
    finally:
        await sender.close()
        await receiver.close()


async def test_only_rooms_with_local_members_are_subscribed(redis_server):
    manager, _ = await _node(redis_server.url)
    try:
        base = set(manager.sharded.wanted)
        manager.basic_enter_room("s1", "/chat", None, eio_sid="e1")
        manager.basic_enter_room("s2", "/chat", None, eio_sid="e2")
        await manager.enter_room("s1", "/chat", "lobby")
        await manager.enter_room("s2", "/chat", "lobby")
        lobby = manager.channels.room("/chat", "lobby")
        everyone = manager.channels.room("/chat", None)
        assert manager.sharded.wanted == base | {lobby, everyone}
        await manager.leave_room("s1", "/chat", "lobby")
        assert lobby in manager.sharded.wanted
        await manager.leave_room("s2", "/chat", "lobby")
        assert manager.sharded.wanted == base | {everyone}
        await _until(lambda: manager.sharded.commands_sent >= 3)
    finally:
        await manager.close()
