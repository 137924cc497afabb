"""``make cluster``'s runner, ``nginx/cluster.py``: Redis, three nodes and
nginx on loopback, one URL that serves a whole session, and a clean stop."""
from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from support import ChatClient
from support.nginx import require_nginx
from support.process import VENV_BIN, clean_environ
from support.redis_server import require_redis_server

ROOT = Path(__file__).resolve().parents[2]
NODES = 3
START_TIMEOUT = 60.0


def free_block(size: int) -> int:
    """A port such that it and the ``size`` after it were free just now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + size > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + size + 1):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no block of free ports")


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_cluster_runner_serves_one_url_and_stops_cleanly(tmp_path):
    require_redis_server()
    require_nginx()
    port = free_block(NODES)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "nginx" / "cluster.py"),
         "--port", str(port), "--nodes", str(NODES),
         "--chatio", str(VENV_BIN / "chatio"), "--dir", str(tmp_path)],
        env=clean_environ(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        line = await asyncio.wait_for(
            asyncio.to_thread(proc.stdout.readline), START_TIMEOUT)
        url = f"http://127.0.0.1:{port}"
        assert line.startswith(f"chatio cluster: {url}/"), \
            line + proc.stderr.read() if proc.poll() is not None else line

        async with aiohttp.ClientSession() as http:
            async with http.post(url + "/api/guest",
                                 json={"name": "Ann"}) as response:
                assert response.status == 200
                guest = await response.json()
        client = ChatClient(("polling",))
        try:
            await client.connect(url, guest["token"])
            join = await client.join("lobby")
            assert join["ok"] and join["history"] == []
            sent = await client.send("lobby", "hello cluster")
            assert sent["message"]["seq"] == 1
        finally:
            await client.close()
        # Every node is a cluster member: the others see the message too.
        for node_port in range(port + 1, port + NODES + 1):
            reader = ChatClient()
            try:
                await reader.connect(f"http://127.0.0.1:{node_port}",
                                     guest["token"])
                join = await reader.join("lobby")
                assert [m["text"] for m in join["history"]] == \
                    ["hello cluster"]
            finally:
                await reader.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 60)
    assert code == 0
    assert not any(accepts(p) for p in range(port, port + NODES + 1))
