"""The chaos run's cluster: Redis with its append-only file, chatio nodes on
fixed ports, and nginx in front of them, each part free to be killed,
stopped, stalled and started again."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import secrets
import signal
from pathlib import Path

from support.net import free_port
from support.nginx import NginxProcess, require_nginx
from support.process import ChatioProcess
from support.redis_server import RedisServer, require_redis_server

HOST = "127.0.0.1"
REDIS_START_TIMEOUT = 60.0
# Seconds a node may take to exit after SIGTERM: its shutdown timeout and
# then some, on a loaded machine.
STOP_TIMEOUT = 20.0


class SingleRedis:
    """One ``redis-server``; its fault is kill -9 and a restart that
    reloads the append-only file."""

    def __init__(self, workdir: Path, appendfsync: str) -> None:
        persistence = (["--appendonly", "no"] if appendfsync == "off" else
                       ["--appendonly", "yes", "--appendfsync", appendfsync])
        self.server = RedisServer(workdir, require_redis_server(), persistence)

    @property
    def url(self) -> str:
        return self.server.url

    def describe(self) -> str:
        return "one Redis"

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def running(self) -> bool:
        return self.server.running

    def revive(self) -> None:
        if not self.server.running:
            self.server.start(REDIS_START_TIMEOUT)

    async def restart(self, down: float, rng: random.Random) -> str:
        await asyncio.to_thread(self.server.kill)
        await asyncio.sleep(down)
        await asyncio.to_thread(self.server.start, REDIS_START_TIMEOUT)
        return f"kill -9 Redis, down {down:g} s"


class ClusteredRedis:
    """A Redis Cluster of three masters without replicas; its fault is
    kill -9 of one master and its restart (same port, node id and append-only
    file), after which the cluster must be whole again."""

    def __init__(self, workdir: Path, appendfsync: str) -> None:
        from support.redis_cluster import RedisClusterServer
        if appendfsync == "off":
            raise ValueError("a Redis Cluster runs with its append-only file")
        self.cluster = RedisClusterServer(
            workdir, masters=3, replicas=0,
            extra_args=["--appendfsync", appendfsync])

    @property
    def url(self) -> str:
        return self.cluster.url

    def describe(self) -> str:
        return "a Redis Cluster of 3 masters"

    def start(self) -> None:
        self.cluster.start()

    def stop(self) -> None:
        for node in self.cluster.nodes:
            node.stop()

    def running(self) -> bool:
        return all(node.running for node in self.cluster.nodes)

    def revive(self) -> None:
        for node in self.cluster.nodes:
            if not node.running:
                self.cluster.restart(node, REDIS_START_TIMEOUT)
        self.cluster.wait_ok(REDIS_START_TIMEOUT)

    async def restart(self, down: float, rng: random.Random) -> str:
        index = rng.randrange(len(self.cluster.nodes))
        node = self.cluster.nodes[index]
        await asyncio.to_thread(self.cluster.kill, node)
        await asyncio.sleep(down)
        await asyncio.to_thread(self.cluster.restart, node, REDIS_START_TIMEOUT)
        await asyncio.to_thread(self.cluster.wait_ok, REDIS_START_TIMEOUT)
        return f"kill -9 Redis Cluster node {index + 1}, down {down:g} s"


@dataclasses.dataclass(frozen=True)
class Timings:
    """Short heartbeats and presence timings, so that the run converges
    quickly after each fault (seconds)."""

    ping_interval: float = 4
    ping_timeout: float = 4
    presence_ttl: float = 6
    presence_grace: float = 2
    shutdown_timeout: float = 5

    def env(self) -> dict[str, str]:
        return {"CHATIO_PING_INTERVAL": f"{self.ping_interval:g}",
                "CHATIO_PING_TIMEOUT": f"{self.ping_timeout:g}",
                "CHATIO_PRESENCE_TTL": f"{self.presence_ttl:g}",
                "CHATIO_PRESENCE_GRACE": f"{self.presence_grace:g}",
                "CHATIO_SHUTDOWN_TIMEOUT": f"{self.shutdown_timeout:g}"}


class ChaosCluster:
    """``nodes`` chatio processes sharing one Redis, behind one nginx."""

    def __init__(self, workdir: Path, *, nodes: int = 3,
                 appendfsync: str = "always",  # or everysec, or off: no AOF
                 redis_cluster: bool = False,
                 timings: Timings = Timings()) -> None:
        self.workdir = Path(workdir)
        self.timings = timings
        self.secret = secrets.token_urlsafe(32)
        self.api_key = secrets.token_urlsafe(24)
        self.prefix = "chaos-" + secrets.token_hex(4)
        self.appendfsync = appendfsync
        self.redis = (ClusteredRedis(self.workdir / "redis-cluster", appendfsync)
                      if redis_cluster else
                      SingleRedis(self.workdir / "redis", appendfsync))
        self.nodes: list[ChatioProcess] = []
        for index in range(1, nodes + 1):
            node_id = f"node-{index}"
            self.nodes.append(ChatioProcess(
                {}, self.workdir / node_id / "logs", port=free_port(HOST)))
        self.nginx = NginxProcess(self.workdir / "nginx",
                                  [f"{HOST}:{node.port}" for node in self.nodes],
                                  executable=require_nginx())

    @property
    def url(self) -> str:
        """Where users connect: nginx."""
        return self.nginx.url

    def name(self, node: ChatioProcess) -> str:
        return f"node-{self.nodes.index(node) + 1}"

    def node_env(self, node_id: str) -> dict[str, str]:
        return {"CHATIO_REDIS_URL": self.redis.url,
                "CHATIO_REDIS_PREFIX": self.prefix,
                "CHATIO_SECRET": self.secret,
                "CHATIO_API_KEY": self.api_key,
                "CHATIO_NODE_ID": node_id,
                "CHATIO_DATA_DIR": str(self.workdir / node_id / "data"),
                "CHATIO_TRUSTED_PROXIES": HOST,
                "LOG_LEVEL": "info",
                **self.timings.env()}

    async def start(self) -> ChaosCluster:
        await asyncio.to_thread(self.redis.start)
        for node in self.nodes:
            node.env.update(self.node_env(self.name(node)))
        await asyncio.gather(*(node.start() for node in self.nodes))
        await asyncio.to_thread(self.nginx.start)
        return self

    async def stop(self) -> list[str]:
        """Everything down: nginx, the nodes (gracefully), then Redis; what
        did not stop on SIGTERM (and was killed)."""
        self.nginx.stop()
        running = [node for node in self.nodes if node.running]
        for node in running:
            self.resume(node)
        results = await asyncio.gather(
            *(node.terminate(STOP_TIMEOUT) for node in running),
            return_exceptions=True)
        await asyncio.to_thread(self.redis.stop)
        return [f"{self.name(node)} did not exit within {STOP_TIMEOUT:g} s of "
                f"SIGTERM (CHATIO_SHUTDOWN_TIMEOUT={self.timings.shutdown_timeout:g})"
                for node, result in zip(running, results)
                if isinstance(result, BaseException)]

    @staticmethod
    def stall(node: ChatioProcess) -> None:
        """SIGSTOP: the node holds its sockets but answers nothing."""
        assert node.proc is not None
        os.kill(node.proc.pid, signal.SIGSTOP)

    @staticmethod
    def resume(node: ChatioProcess) -> None:
        assert node.proc is not None
        os.kill(node.proc.pid, signal.SIGCONT)
