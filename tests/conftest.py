"""Fixtures shared by chatio's test suites.

Functional tests run against a real server on a free local port. A test that
needs particular settings calls ``start_server(**changes)``; most use
``server``. A module where the history store matters parametrizes the
``backend`` fixture over both stores::

    pytestmark = pytest.mark.parametrize("backend", BACKENDS)

Tests that need Redis use ``redis_server`` (one real ``redis-server`` shared
by the session) with their own ``redis_prefix``, or ``own_redis_server``
when they kill or restart it. ``redis_cluster`` is a real Redis Cluster of
three masters shared the same way; ``make_redis_cluster(replicas=1)`` makes
one for a test that kills its nodes (``support.redis_cluster``).
"""
from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatio.settings import Settings
from support import UNLIMITED, ChatClient, mint_token, serve_app
from support.server import Server
from support.redis_cluster import RedisClusterServer
from support.redis_server import MIN_VERSION, RedisServer, require_redis_server


@pytest.fixture
def secret() -> str:
    return "test-secret-" + secrets.token_hex(16)


@pytest.fixture
def backend() -> str:
    """The history store; override with ``parametrize("backend", ...)``."""
    return "memory"


@pytest.fixture
def make_settings(tmp_path: Path, secret: str,
                  backend: str) -> Callable[..., Settings]:
    """Settings for one test node: its own data dir, secret and store."""
    def make(**changes: Any) -> Settings:
        base = Settings(
            host="127.0.0.1",
            port=0,
            secret=secret,
            data_dir=tmp_path / "data",
            history_backend=backend,
            rate_messages=UNLIMITED,
            rate_guest=UNLIMITED,
        )
        return base.replace(**changes)
    return make


@pytest.fixture
async def start_server(
        make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    """Start in-process servers; all are stopped when the test ends."""
    async with contextlib.AsyncExitStack() as stack:
        async def start(**changes: Any) -> Server:
            settings = make_settings(**changes)
            url = await stack.enter_async_context(serve_app(settings))
            return Server(url, settings)
        yield start


@pytest.fixture
async def server(start_server: Callable[..., Awaitable[Server]]) -> Server:
    return await start_server()


@pytest.fixture
def token(secret: str) -> Callable[..., str]:
    """Mint a token for the test secret: ``token("alice", name="Alice")``."""
    def make(sub: str = "alice", **claims: Any) -> str:
        return mint_token(secret, sub, **claims)
    return make


@pytest.fixture
async def clients(
        start_server: Callable[..., Awaitable[Server]]
) -> AsyncIterator[Callable[[], ChatClient]]:
    """Make ``ChatClient``s that are closed before the servers stop."""
    made: list[ChatClient] = []

    def make(transports: tuple[str, ...] = ("websocket",)) -> ChatClient:
        client = ChatClient(transports)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def connect(clients: Callable[..., ChatClient],
            token: Callable[..., str]) -> Callable[..., Awaitable[ChatClient]]:
    """Connect a client to a server as a user (a fresh token per call)::

        alice = await connect(server, "alice", name="Alice")
    """
    async def make(server: Server, sub: str = "alice", *,
                   transports: tuple[str, ...] = ("websocket",),
                   location: str = "auth", **claims: Any) -> ChatClient:
        client = clients(transports)
        await client.connect(server.url, token(sub, **claims),
                             location=location)
        return client
    return make


def _started_redis(workdir: Path) -> RedisServer:
    server = RedisServer(workdir, require_redis_server()).start()
    version = server.version()
    if version < MIN_VERSION:
        server.kill()
        reason = (f"redis-server {'.'.join(map(str, version))} is too old; "
                  f"chatio needs {'.'.join(map(str, MIN_VERSION))} or newer")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session; give each test its own
    ``redis_prefix``, and do not kill this one (use ``own_redis_server``)."""
    server = _started_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.kill()


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for this test alone, free to kill and restart."""
    server = _started_redis(tmp_path / "redis")
    yield server
    server.kill()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses."""
    return "chatio-test-" + secrets.token_hex(8)


def _started_redis_cluster(workdir: Path, **shape: int) -> RedisClusterServer:
    require_redis_server()
    try:
        return RedisClusterServer(workdir, **shape).start()
    except RuntimeError as exc:
        if "too old" not in str(exc) or os.environ.get(
                "CI", "").lower() == "true":
            raise
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def redis_cluster(
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServer]:
    """One real Redis Cluster (3 masters, no replicas) for the session; give
    each test its own ``redis_prefix``, and do not kill its nodes (use
    ``make_redis_cluster``)."""
    cluster = _started_redis_cluster(tmp_path_factory.mktemp("redis-cluster"))
    yield cluster
    cluster.kill_all()


@pytest.fixture
def make_redis_cluster(
        tmp_path: Path) -> Iterator[Callable[..., RedisClusterServer]]:
    """``make_redis_cluster(masters=3, replicas=1)``: a Redis Cluster for
    this test alone, free to kill and restart; killed when the test ends."""
    made: list[RedisClusterServer] = []

    def make(**shape: int) -> RedisClusterServer:
        cluster = _started_redis_cluster(
            tmp_path / f"redis-cluster-{len(made)}", **shape)
        made.append(cluster)
        return cluster
    yield make
    for cluster in made:
        cluster.kill_all()
