"""A real Redis Cluster on loopback ports, for tests.

``RedisClusterServer(workdir, masters=3, replicas=0).start()`` starts one
``redis-server --cluster-enabled yes`` per node in its own directory (append
only file on, ``appendfsync always``), joins them with
``redis-cli --cluster create`` and waits until every node reports
``cluster_state:ok`` and agrees on the slots. ``url`` is the address chatio
takes in ``CHATIO_REDIS_URL`` (``redis+cluster://h:p,h:p,...``);
``seed_url`` is a plain ``redis://`` URL of one node.

Faults: ``kill(node)`` (SIGKILL), ``restart(node)`` (same port, same node
id and data), ``master_of(key)`` finds the master serving a key's slot,
``name_served_by(master, "room-{}")`` a room name whose keys it serves,
``wait_promoted(old_master)`` waits until a replica took over its slots, and
``wait_ok()`` until the cluster is whole again. Nodes are started with
``cluster-require-full-coverage no``, so the slots of a dead master fail
while the others keep answering, as docs/deployment.md recommends.
"""
from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from redis.crc import key_slot

from .net import free_port
from .redis_server import RedisServer, require_redis_server

START_TIMEOUT = 30.0
# Milliseconds a node may be unreachable before the others mark it failed;
# a replica is promoted about this long after its master died.
NODE_TIMEOUT_MS = 1000
# Redis 7 added the cluster-port option and sharded pub/sub.
MIN_CLUSTER_VERSION = (7, 0)
POLL = 0.05


@dataclasses.dataclass(frozen=True)
class NodeView:
    """One line of ``CLUSTER NODES`` as a node sees it."""

    node_id: str
    port: int
    role: str          # "master" or "slave"
    master_id: str     # "-" for a master
    failed: bool
    slots: tuple[tuple[int, int], ...]

    def serves(self, slot: int) -> bool:
        return any(lo <= slot <= hi for lo, hi in self.slots)


class RedisClusterServer:
    """``masters`` masters with ``replicas`` replicas each, all on
    127.0.0.1; ``nodes`` lists them in creation order (masters first, as
    ``redis-cli`` assigns them, though a failover changes roles)."""

    def __init__(self, workdir: Path, *, masters: int = 3, replicas: int = 0,
                 executable: str | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        self.workdir = Path(workdir)
        self.masters = masters
        self.replicas = replicas
        self.executable = executable or require_redis_server()
        self.extra_args = list(extra_args)
        self.nodes: list[RedisServer] = []
        # master port -> ports of its replicas, as created.
        self._replicas_at_start: dict[int, list[int]] = {}

    # -- addresses ---------------------------------------------------------

    @property
    def url(self) -> str:
        """``CHATIO_REDIS_URL`` for this cluster: every node as a seed."""
        seeds = ",".join(f"{n.host}:{n.port}" for n in self.nodes)
        return f"redis+cluster://{seeds}"

    @property
    def seed_url(self) -> str:
        """A plain ``redis://`` URL of the first node (redis-py's
        ``RedisCluster.from_url`` takes it)."""
        return self.nodes[0].url

    # -- lifecycle ---------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> RedisClusterServer:
        """Start every node, create the cluster, wait until it is ok."""
        assert not self.nodes, "the cluster is already started"
        total = self.masters * (1 + self.replicas)
        for index in range(total):
            self.nodes.append(self._start_node(index))
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed (it comes with the "
                               "Debian package redis-server / redis-tools)")
        argv = [cli, "--cluster", "create",
                *(f"{n.host}:{n.port}" for n in self.nodes),
                "--cluster-replicas", str(self.replicas), "--cluster-yes"]
        done = subprocess.run(argv, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            self.kill_all()
            raise RuntimeError(
                f"redis-cli --cluster create failed ({done.returncode}):\n"
                f"{done.stdout.decode(errors='replace')}"
                f"{done.stderr.decode(errors='replace')}")
        self.wait_ok(timeout)
        views = self.view()
        by_id = {v.node_id: v.port for v in views}
        for seen in views:
            if seen.role == "slave":
                self._replicas_at_start.setdefault(
                    by_id[seen.master_id], []).append(seen.port)
        if self.replicas:
            self.wait_replicas_synced(timeout)
        return self

    def kill_all(self) -> None:
        """SIGKILL every node."""
        for node in self.nodes:
            node.kill()

    def kill(self, node: RedisServer) -> None:
        """SIGKILL one node: no shutdown save, connections reset."""
        node.kill()

    def restart(self, node: RedisServer,
                timeout: float = START_TIMEOUT) -> None:
        """Start a killed node again on its port, with its ``nodes.conf`` and
        append-only file, so it rejoins as the node it was."""
        node.restart(timeout)

    # -- state -------------------------------------------------------------

    def view(self, node: RedisServer | None = None) -> list[NodeView]:
        """``CLUSTER NODES`` as ``node`` (default: the first running one)
        sees the cluster."""
        asker = node or next(n for n in self.nodes if n.running)
        lines = asker.command(b"CLUSTER", b"NODES").decode().splitlines()
        return [_parse_node_line(line) for line in lines if line.strip()]

    def node_by_port(self, port: int) -> RedisServer:
        return next(n for n in self.nodes if n.port == port)

    def master_of(self, key: str | bytes) -> RedisServer:
        """The running master serving the slot of ``key`` (hash tags
        included), as the running nodes see it now."""
        slot = key_slot(key.encode() if isinstance(key, str) else key)
        for seen in self.view():
            if seen.role == "master" and not seen.failed and seen.serves(slot):
                return self.node_by_port(seen.port)
        raise LookupError(f"no live master serves slot {slot}")

    def name_served_by(self, master: RedisServer, template: str = "room-{}",
                       limit: int = 100_000) -> str:
        """The first ``template.format(n)`` whose slot (as a hash tag, the
        way chatio tags room keys) ``master`` serves: a room on that
        master."""
        ranges = next(v.slots for v in self.view() if v.port == master.port)
        for n in range(limit):
            name = template.format(n)
            slot = key_slot(name.encode())
            if any(lo <= slot <= hi for lo, hi in ranges):
                return name
        raise LookupError(f"no {template!r} on port {master.port}")

    def current_masters(self) -> list[RedisServer]:
        """The nodes that are masters with slots now."""
        return [self.node_by_port(v.port) for v in self.view()
                if v.role == "master" and v.slots and not v.failed]

    def replicas_of(self, master: RedisServer) -> list[RedisServer]:
        views = self.view()
        master_id = next(v.node_id for v in views if v.port == master.port)
        return [self.node_by_port(v.port) for v in views
                if v.master_id == master_id]

    def wait_ok(self, timeout: float = START_TIMEOUT) -> None:
        """Until every running node says ``cluster_state:ok``, knows every
        node, and sees every slot served by a live master."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                if self._all_ok():
                    return
            except (OSError, RuntimeError) as exc:
                last = str(exc)
            time.sleep(POLL)
        raise TimeoutError(f"Redis Cluster not ok within {timeout}s {last}\n"
                           + self._describe())

    def wait_promoted(self, old_master: RedisServer,
                      timeout: float = START_TIMEOUT) -> RedisServer:
        """Until a node that was a replica of ``old_master`` when the
        cluster was created serves slots as a master and the cluster is ok
        again; returns the new master."""
        candidates = set(self._replicas_at_start.get(old_master.port, ()))
        if not candidates:
            raise ValueError(f"port {old_master.port} had no replica")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                for seen in self.view():
                    if (seen.port in candidates and seen.role == "master"
                            and seen.slots and not seen.failed):
                        self.wait_ok(max(deadline - time.monotonic(), 1.0))
                        return self.node_by_port(seen.port)
            except (OSError, RuntimeError):
                pass
            time.sleep(POLL)
        raise TimeoutError(f"no replica took over port {old_master.port} "
                           f"within {timeout}s\n" + self._describe())

    def wait_replicas_synced(self, timeout: float = START_TIMEOUT) -> None:
        """Until every running replica's link is up and its offset equals
        its master's: a kill of a master then loses no write made before."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._replica_synced(n) for n in self.nodes if n.running
                   and _info(n, "replication").get("role") == "slave"):
                return
            time.sleep(POLL)
        raise TimeoutError(f"replicas not in sync within {timeout}s")

    # -- internals ---------------------------------------------------------

    def _start_node(self, index: int) -> RedisServer:
        workdir = self.workdir / f"node-{index}"
        for attempt in range(3):
            port, bus = free_port(), free_port()
            if port == bus:
                continue
            node = RedisServer(workdir, self.executable, [
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-port", str(bus),
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                "--cluster-require-full-coverage", "no",
                "--appendonly", "yes", "--appendfsync", "always",
                *self.extra_args])
            node.port = port
            try:
                node.start()
            except RuntimeError:
                if attempt == 2:
                    raise
                continue
            version = node.version()
            if version < MIN_CLUSTER_VERSION:
                node.kill()
                raise RuntimeError(
                    f"redis-server {version} is too old for the cluster "
                    f"tests; they need {MIN_CLUSTER_VERSION} or newer")
            return node
        raise RuntimeError("no free ports for a cluster node")

    def _all_ok(self) -> bool:
        running = [n for n in self.nodes if n.running]
        for node in running:
            info = _info_text(node, b"CLUSTER", b"INFO")
            if info.get("cluster_state") != "ok":
                return False
            if int(info.get("cluster_known_nodes", 0)) != len(self.nodes):
                return False
            if int(info.get("cluster_slots_ok", 0)) != 16384:
                return False
            # A restarted master may still claim slots a replica took over.
            served = sum(hi - lo + 1 for seen in self.view(node)
                         if seen.role == "master" and not seen.failed
                         for lo, hi in seen.slots)
            if served != 16384:
                return False
        return True

    def _replica_synced(self, node: RedisServer) -> bool:
        info = _info(node, "replication")
        if info.get("master_link_status") != "up":
            return False
        master = self.node_by_port(int(info["master_port"]))
        if not master.running:
            return False
        offset = int(_info(master, "replication").get("master_repl_offset", -1))
        return int(info.get("slave_repl_offset", -2)) == offset

    def _describe(self) -> str:
        lines = []
        for node in self.nodes:
            if not node.running:
                lines.append(f"{node.port}: not running")
                continue
            try:
                lines.append(f"{node.port}: "
                             + node.command(b"CLUSTER", b"NODES").decode())
            except (OSError, RuntimeError) as exc:
                lines.append(f"{node.port}: {exc}")
        return "\n".join(lines)


def _info(node: RedisServer, section: str) -> dict[str, str]:
    return _info_text(node, b"INFO", section.encode())


def _info_text(node: RedisServer, *command: bytes) -> dict[str, str]:
    text = node.command(*command).decode()
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _parse_node_line(line: str) -> NodeView:
    parts = line.split()
    address = parts[1].split("@", 1)[0]
    flags = parts[2].split(",")
    slots = []
    for item in parts[8:]:
        if item.startswith("["):
            continue  # a slot being migrated or imported
        lo, _, hi = item.partition("-")
        slots.append((int(lo), int(hi or lo)))
    return NodeView(
        node_id=parts[0],
        port=int(address.rsplit(":", 1)[1]),
        role="master" if "master" in flags else "slave",
        master_id=parts[3],
        failed="fail" in flags or "fail?" in flags,
        slots=tuple(slots))
