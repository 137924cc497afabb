"""Fixtures for cluster tests: in-process nodes sharing a real Redis.

``start_node(redis)`` starts one more node that uses ``redis`` (a
``RedisServer``) under this test's key prefix. Use the session's
``redis_server`` unless the test kills Redis (then ``own_redis_server``).
"""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support import serve_app
from support.cluster import Cluster
from support.js_puppet import JsPuppet, js_puppet
from support.redis_server import RedisServer, require_redis_server
from support.server import Server


@pytest.fixture
async def start_node(
        make_settings: Callable[..., Any], redis_prefix: str
) -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    """Start cluster nodes; all are stopped when the test ends."""
    async with contextlib.AsyncExitStack() as stack:
        count = 0

        async def start(redis: RedisServer, **changes: Any) -> Server:
            nonlocal count
            count += 1
            changes.setdefault("node_id", f"node-{count}")
            settings = make_settings(redis_url=redis.url,
                                     redis_prefix=redis_prefix, **changes)
            url = await stack.enter_async_context(serve_app(settings))
            return Server(url, settings)
        yield start


@pytest.fixture
def aof_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for this test alone with the append-only file on, as
    docs/deployment.md recommends: killing it loses no acknowledged write."""
    server = RedisServer(tmp_path / "redis-aof", require_redis_server(),
                         ["--appendonly", "yes", "--appendfsync", "always"])
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def start_cluster(tmp_path: Path) -> AsyncIterator[
        Callable[..., Awaitable[Cluster]]]:
    """``await start_cluster(CHATIO_PRESENCE_GRACE="1")``: a real cluster of
    three ``chatio serve`` processes on their own AOF redis-server (with
    ``redis_cluster=True``, on their own Redis Cluster of three masters),
    with the given settings on every node; stopped when the test ends."""
    started: list[Cluster] = []

    async def start(*, redis_cluster: bool = False, **env: str) -> Cluster:
        cluster = Cluster(tmp_path / f"cluster-{len(started)}", env=env,
                          redis_cluster=redis_cluster)
        started.append(cluster)
        return await cluster.start()
    try:
        yield start
    finally:
        for cluster in started:
            await cluster.stop()


@pytest.fixture
async def puppet() -> AsyncIterator[JsPuppet]:
    """Official socket.io-client sockets, driven from the test."""
    async with js_puppet() as puppet:
        yield puppet
