"""A real chatio cluster for tests: one redis-server (or a Redis Cluster of
three masters) and N ``chatio serve`` processes sharing it, each free to be
killed and restarted."""
from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .process import ChatioProcess
from .redis_cluster import RedisClusterServer
from .redis_server import RedisServer, require_redis_server
from .tokens import mint_token

# Redis as docs/deployment.md recommends: every acked write on disk.
AOF_ARGS = ("--appendonly", "yes", "--appendfsync", "always")


class Cluster:
    """``nodes`` chatio processes (``node-1`` ...) on one Redis.

    ``env`` adds settings for every node; short presence timings make
    failure tests fast. ``redis_cluster`` puts every store on a Redis
    Cluster of three masters (``self.redis`` is then a
    ``RedisClusterServer``) instead of one redis-server.
    """

    def __init__(self, workdir: Path, nodes: int = 3,
                 env: Mapping[str, str] | None = None, *,
                 redis_cluster: bool = False) -> None:
        self.workdir = Path(workdir)
        self.secret = "cluster-secret-" + secrets.token_hex(16)
        self.prefix = "chatio-test-" + secrets.token_hex(6)
        self.redis: RedisServer | RedisClusterServer
        if redis_cluster:
            self.redis = RedisClusterServer(self.workdir / "redis-cluster")
        else:
            self.redis = RedisServer(self.workdir / "redis",
                                     require_redis_server(), AOF_ARGS)
        self._env = dict(env or {})
        self._count = nodes
        self.nodes: list[ChatioProcess] = []

    def node_env(self, node_id: str) -> dict[str, str]:
        return {
            "CHATIO_REDIS_URL": self.redis.url,
            "CHATIO_REDIS_PREFIX": self.prefix,
            "CHATIO_SECRET": self.secret,
            "CHATIO_NODE_ID": node_id,
            "CHATIO_DATA_DIR": str(self.workdir / node_id / "data"),
            "CHATIO_RATE_MESSAGES": "0",
            "CHATIO_RATE_TYPING": "0",
            "LOG_LEVEL": "info",
            **self._env,
        }

    async def start(self) -> Cluster:
        self.redis.start()
        for index in range(1, self._count + 1):
            node_id = f"node-{index}"
            self.nodes.append(ChatioProcess(self.node_env(node_id),
                                            self.workdir / node_id / "logs"))
        await asyncio.gather(*(node.start() for node in self.nodes))
        return self

    def token(self, sub: str, **claims: Any) -> str:
        return mint_token(self.secret, sub, **claims)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    async def stop(self) -> None:
        for node in self.nodes:
            if node.running:
                node.kill()
        if isinstance(self.redis, RedisClusterServer):
            self.redis.kill_all()
        else:
            self.redis.kill()

    def logs(self) -> str:
        """Every node's output, for failure messages."""
        return "\n".join(f"=== {node.env['CHATIO_NODE_ID']} ===\n"
                         f"{node.all_output()}" for node in self.nodes)
