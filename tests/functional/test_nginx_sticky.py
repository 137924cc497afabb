"""chatio nodes behind a real nginx rendered from ``nginx/``.

The official socket.io-client (Node) runs whole /chat sessions through nginx
from distinct 127.x source addresses. With ``hash $remote_addr consistent``
long-polling sessions complete; through a round-robin upstream the very same
sessions fail, so stickiness is what makes them work.

The nodes are members of one cluster (a real redis-server): a client could
be served by any of them, so only stickiness keeps a polling session on the
node that holds it.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path

import aiohttp
import pytest

from support import ChatioProcess
from support.js_sessions import Report, js_session, run_sessions
from support.nginx import NginxProcess, require_nginx

NODE_COUNT = 3
# Distinct loopback source addresses (Linux routes all of 127/8 to lo).
SOURCES = tuple(f"127.0.0.{i}" for i in range(2, 14))
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)


@pytest.fixture
def cluster_env(redis_server, redis_prefix) -> dict[str, str]:
    """Make every node a member of one cluster."""
    return {"CHATIO_REDIS_URL": redis_server.url,
            "CHATIO_REDIS_PREFIX": redis_prefix}


@pytest.fixture
def start_nodes(tmp_path: Path, secret: str, cluster_env: dict[str, str]
                ) -> Iterator[Callable[..., Awaitable[list[ChatioProcess]]]]:
    """``await start_nodes(count, **env)``: nodes that trust nginx on
    127.0.0.1 unless ``CHATIO_TRUSTED_PROXIES`` is overridden."""
    require_nginx()
    started: list[ChatioProcess] = []

    async def start(count: int = NODE_COUNT, **env: str) -> list[ChatioProcess]:
        base = len(started)
        nodes = [ChatioProcess({
            "CHATIO_SECRET": secret,
            "CHATIO_DATA_DIR": str(tmp_path / f"node{base + i}" / "data"),
            "CHATIO_NODE_ID": f"node{base + i}",
            "CHATIO_TRUSTED_PROXIES": "127.0.0.1",
            "CHATIO_RATE_MESSAGES": "0",
            "CHATIO_GUEST_LOGIN": "1",
            **cluster_env, **env,
        }, tmp_path / f"node{base + i}" / "logs") for i in range(count)]
        started.extend(nodes)
        await asyncio.gather(*(node.start() for node in nodes))
        return nodes

    yield start
    for node in started:
        node.kill()


@pytest.fixture
def proxies(tmp_path: Path) -> Iterator[Callable[..., NginxProcess]]:
    """``proxies(nodes, balance=...)``: a started nginx in front of them."""
    with contextlib.ExitStack() as stack:
        def make(nodes: list[ChatioProcess], **options: object) -> NginxProcess:
            proxy = NginxProcess(
                tmp_path / f"nginx{len(made)}",
                [f"{n.host}:{n.port}" for n in nodes], **options)
            made.append(proxy)
            return stack.enter_context(proxy)
        made: list[NginxProcess] = []
        yield make


def connections(node: ChatioProcess) -> list[Mapping[str, object]]:
    """The node's ``connected`` log records."""
    records = []
    for line in node.all_output().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and record.get("msg") == "connected":
                records.append(record)
    return records


def served_by(nodes: list[ChatioProcess], user: str) -> list[tuple[int, str]]:
    """``(node index, client address)`` of every connection of ``user``."""
    return [(index, str(record["address"]))
            for index, node in enumerate(nodes)
            for record in connections(node) if record.get("user") == user]


def upstreams_by_client(proxy: NginxProcess) -> dict[str, set[str]]:
    """From nginx's access log: the upstreams each client address reached."""
    seen: dict[str, set[str]] = {}
    for line in proxy.access_log().splitlines():
        client = line.split(" ", 1)[0]
        upstream = line.split(" upstream=", 1)[1].split(" ", 1)[0]
        seen.setdefault(client, set()).add(upstream)
    return seen


def describe(reports: list[Report], proxy: NginxProcess) -> str:
    return ("\n".join(map(str, reports))
            + f"\n--- access.log ---\n{proxy.access_log()}")


async def test_polling_sessions_complete_through_the_hash_upstream(
        start_nodes, proxies, secret) -> None:
    nodes = await start_nodes()
    proxy = proxies(nodes)
    sessions = [js_session(secret, source, "polling") for source in SOURCES]

    reports = await run_sessions(proxy.url, sessions)

    assert all(r.ok for r in reports), describe(reports, proxy)
    assert {r.transport for r in reports} == {"polling"}
    used = set()
    for session in sessions:
        alice, bob = (served_by(nodes, user) for user in session.users)
        # One node held both users' sessions: every request of each session
        # went there.
        assert len(alice) == 1 and alice == bob, (session, alice, bob)
        used.add(alice[0][0])
    # The whole address is hashed, not its /24 (as ip_hash would): twelve
    # 127.0.0.x clients do not all land on one node.
    assert len(used) > 1, used
    # nginx's own record: one upstream per client address, and no request
    # reached a node that did not know its session.
    upstreams = upstreams_by_client(proxy)
    assert set(upstreams) == set(SOURCES)
    assert all(len(u) == 1 for u in upstreams.values()), upstreams
    assert "upstream_status=400" not in proxy.access_log()


async def test_polling_sessions_fail_through_a_round_robin_upstream(
        start_nodes, proxies, secret) -> None:
    nodes = await start_nodes()
    proxy = proxies(nodes, balance="round-robin")
    sessions = [js_session(secret, source, "polling") for source in SOURCES[:4]]

    reports = await run_sessions(proxy.url, sessions, step_timeout_ms=3_000)

    assert not any(r.ok for r in reports), describe(reports, proxy)
    # Requests after a handshake reached nodes that did not know the session.
    await proxy.wait_for_access_log(lambda log: "upstream_status=400" in log)


async def test_nodes_see_the_client_address_forwarded_by_nginx(
        start_nodes, proxies, secret) -> None:
    nodes = await start_nodes(1)
    proxy = proxies(nodes)
    source = "127.0.0.7"
    session = js_session(secret, source, "polling")

    [report] = await run_sessions(proxy.url, [session])

    assert report.ok, describe([report], proxy)
    for user in session.users:
        assert served_by(nodes, user) == [(0, source)]


async def test_without_trusting_nginx_nodes_see_nginx_as_the_client(
        start_nodes, proxies, secret) -> None:
    # CHATIO_TRUSTED_PROXIES is empty: X-Forwarded-For is ignored.
    nodes = await start_nodes(1, CHATIO_TRUSTED_PROXIES="")
    proxy = proxies(nodes)
    session = js_session(secret, "127.0.0.7", "polling")

    [report] = await run_sessions(proxy.url, [session])

    assert report.ok, describe([report], proxy)
    for user in session.users:
        assert served_by(nodes, user) == [(0, "127.0.0.1")]


@pytest.mark.parametrize("transport", ["websocket", "upgrade"])
async def test_websocket_sessions_complete_through_nginx(
        start_nodes, proxies, secret, transport) -> None:
    nodes = await start_nodes()
    proxy = proxies(nodes)
    sessions = [js_session(secret, source, transport) for source in SOURCES[:4]]

    reports = await run_sessions(proxy.url, sessions)

    assert all(r.ok for r in reports), describe(reports, proxy)
    assert {r.transport for r in reports} == {"websocket"}
    for session in sessions:
        [(_, address)] = served_by(nodes, session.users[0])
        assert address == session.local_address
    # Each user's WebSocket went through nginx as an upgrade.
    await proxy.wait_for_access_log(
        lambda log: log.count("upstream_status=101") >= 2 * len(sessions))


async def test_public_routes(start_nodes, proxies) -> None:
    nodes = await start_nodes(1)
    proxy = proxies(nodes)
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        async with http.get(f"{proxy.url}/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"ok": True}
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["X-Frame-Options"] == "DENY"
            assert resp.headers["Referrer-Policy"] == "no-referrer"
            assert "Strict-Transport-Security" not in resp.headers
        async with http.post(f"{proxy.url}/api/guest",
                             json={"name": "Ada"}) as resp:
            assert resp.status == 200, await resp.text()
            assert "token" in await resp.json()
        for path in ("/metrics", "/metrics/", "/readyz"):
            async with http.get(f"{proxy.url}{path}") as resp:
                assert resp.status == 404, path
    # nginx answered those itself: no request reached a node.
    log = await proxy.wait_for_access_log(
        lambda log: log.count('"GET /metrics') == 2 and '"GET /readyz' in log)
    for line in log.splitlines():
        if '"GET /metrics' in line or '"GET /readyz' in line:
            assert "upstream=-" in line, line
