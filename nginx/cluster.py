#!/usr/bin/env python3
"""Run a chatio cluster on loopback: Redis, N nodes and nginx in front.

    make cluster                       # http://127.0.0.1:8000
    python3 nginx/cluster.py --port 9000 --nodes 3 --chatio .venv/bin/chatio

Redis (append-only file on) listens on a free loopback port, node i on
``port + i``, nginx on ``port`` with the plain-HTTP site rendered by
``render.py``. State lives under ``--dir`` (default ``data/cluster``): the
shared secret, Redis's files, each node's data and nginx's files and logs.
Ctrl-C (or SIGTERM) stops everything, the nodes gracefully. Only the standard
library is used.
"""
from __future__ import annotations

import argparse
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class ClusterError(RuntimeError):
    """The cluster could not start; says which part failed."""


def executable(name: str, *fallbacks: str) -> str:
    found = shutil.which(name) or next(
        (path for path in fallbacks if os.access(path, os.X_OK)), None)
    if found is None:
        raise ClusterError(f"{name} is not installed (Debian package: "
                           f"{'redis-server' if name == 'redis-server' else name})")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def wait_until(ready, what: str, proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if proc.poll() is not None:
            raise ClusterError(f"{what} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise ClusterError(f"{what} did not start within {START_TIMEOUT:g} s")
        time.sleep(0.1)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/healthz",
                                    timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def shared_secret(directory: Path) -> str:
    """The cluster's token secret, created once (mode 0600)."""
    path = directory / "secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class LocalCluster:
    """The processes of one local cluster, started and stopped together."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir = args.dir.resolve()
        self.procs: list[tuple[str, subprocess.Popen]] = []  # type: ignore[type-arg]

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None
              ) -> subprocess.Popen:  # type: ignore[type-arg]
        log = open(self.dir / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def start(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        redis_port = self.start_redis()
        secret = shared_secret(self.dir)
        ports = [self.args.port + i for i in range(1, self.args.nodes + 1)]
        for index, port in enumerate(ports, 1):
            self.start_node(index, port, redis_port, secret)
        self.start_nginx(ports)
        return (f"chatio cluster: http://{HOST}:{self.args.port}/ "
                f"(nodes on ports {ports[0]}-{ports[-1]}, "
                f"redis on {HOST}:{redis_port}, logs in {self.dir})")

    def start_redis(self) -> int:
        port = free_port()
        (self.dir / "redis").mkdir(exist_ok=True)
        proc = self.spawn("redis", [
            executable("redis-server"), "--port", str(port), "--bind", HOST,
            "--dir", str(self.dir / "redis"), "--appendonly", "yes",
            "--appendfsync", "everysec", "--save", ""])
        wait_until(lambda: accepts(port), "redis-server", proc)
        return port

    def start_node(self, index: int, port: int, redis_port: int,
                   secret: str) -> None:
        node_id = f"node-{index}"
        env = {**{k: v for k, v in os.environ.items()
                  if not k.startswith("CHATIO_")},
               "CHATIO_REDIS_URL": f"redis://{HOST}:{redis_port}/0",
               "CHATIO_SECRET": secret,
               "CHATIO_NODE_ID": node_id,
               "CHATIO_DATA_DIR": str(self.dir / node_id),
               "CHATIO_GUEST_LOGIN": "1",
               "CHATIO_TRUSTED_PROXIES": HOST}
        proc = self.spawn(node_id, [self.args.chatio, "serve", "--host", HOST,
                                    "--port", str(port)], env)
        wait_until(lambda: healthy(port), node_id, proc)

    def start_nginx(self, ports: list[int]) -> None:
        prefix = self.dir / "nginx"
        prefix.mkdir(exist_ok=True)
        config = prefix / "nginx.conf"
        argv = [sys.executable, str(HERE / "render.py"),
                "--listen", f"{HOST}:{self.args.port}",
                "--standalone", str(prefix), "-o", str(config)]
        for port in ports:
            argv += ["--node", f"{HOST}:{port}"]
        if os.geteuid() == 0:
            argv += ["--user", pwd.getpwuid(os.geteuid()).pw_name]
        subprocess.run(argv, check=True)
        nginx = executable("nginx", "/usr/sbin/nginx")
        proc = self.spawn("nginx", [nginx, "-p", str(prefix), "-e",
                                    str(prefix / "error.log"), "-c", str(config)])
        wait_until(lambda: healthy(self.args.port), "nginx", proc)

    def running(self) -> bool:
        return all(proc.poll() is None for _, proc in self.procs)

    def stop(self) -> None:
        # nginx first, so that clients stop arriving; Redis last, so that the
        # nodes can still reach it while they shut down.
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nginx/cluster.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000,
                        help="nginx's port; node i listens on PORT+i")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--chatio", default=shutil.which("chatio") or "chatio",
                        help="the chatio executable")
    parser.add_argument("--dir", type=Path, default=Path("data/cluster"))
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 32 or not 0 < args.port <= 65535 - args.nodes:
        parser.error("--nodes must be 1-32 and every port must fit below 65536")
    return args


def main(argv: list[str] | None = None) -> int:
    cluster = LocalCluster(parse_args(argv))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(cluster.start(), flush=True)
        while cluster.running():
            time.sleep(0.5)
        stopped = [name for name, proc in cluster.procs if proc.poll() is not None]
        print(f"cluster.py: {', '.join(stopped)} stopped; shutting down",
              file=sys.stderr)
        return 1
    except ClusterError as exc:
        print(f"cluster.py: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
