"""A real ``redis-server`` process on a free loopback port, for tests."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from .net import free_port

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# Redis 7.0 added sharded pub/sub (SSUBSCRIBE, SPUBLISH), which cluster mode
# routes every emit over.
MIN_VERSION = (7, 0)


def require_redis_server() -> str:
    """The path of ``redis-server``. Without one, the test fails when
    ``CI=true`` (CI must not silently lose coverage) and is skipped
    otherwise."""
    path = shutil.which("redis-server")
    if path is None:
        reason = ("redis-server is not installed (run `bash .ci/system-deps "
                  "redis`, or install the Debian package redis-server)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; CI=true, so this is a failure",
                        pytrace=False)
        pytest.skip(reason)
    return path


class RedisServer:
    """``redis-server --port P --save "" --appendonly no --bind 127.0.0.1``
    with its own working directory. ``extra_args`` add or override options
    (``["--appendonly", "yes"]``)."""

    def __init__(self, workdir: Path, executable: str = "redis-server",
                 extra_args: Sequence[str] = ()) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.executable = executable
        self.extra_args = list(extra_args)
        self.host = "127.0.0.1"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"redis.{self.starts}.log"

    def start(self, timeout: float = START_TIMEOUT) -> RedisServer:
        """Start on a free port (on the same port again after ``kill`` or
        ``stop``) and wait until it answers ``PING``."""
        assert not self.running, "redis-server is already running"
        first = self.port == 0
        attempts = 3 if first else 1
        for attempt in range(attempts):
            if first:
                self.port = free_port(self.host)
            try:
                self._spawn(timeout)
                return self
            except RuntimeError:
                # Another process took the port between free_port and bind.
                if attempt == attempts - 1:
                    raise
        return self

    def kill(self) -> None:
        """SIGKILL and wait: no shutdown save, connections reset."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL if it does not exit in time)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, timeout: float = START_TIMEOUT) -> RedisServer:
        """Kill (if running) and start again on the same port."""
        self.kill()
        return self.start(timeout)

    def version(self) -> tuple[int, ...]:
        info = self.command(b"INFO", b"server").decode()
        for line in info.splitlines():
            if line.startswith("redis_version:"):
                return tuple(int(p) for p in line.split(":", 1)[1].split(".")[:2])
        raise RuntimeError(f"no redis_version in INFO: {info!r}")

    def command(self, *args: bytes, timeout: float = 2.0) -> bytes:
        """Send one command over a fresh connection; the raw reply payload
        (simple or bulk string). Raises ``OSError`` when nothing answers."""
        request = b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        with socket.create_connection((self.host, self.port), timeout) as sock:
            sock.sendall(request)
            reply = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("redis-server closed the connection")
                reply += chunk
                if reply[:1] in (b"+", b"-") and reply.endswith(b"\r\n"):
                    if reply[:1] == b"-":
                        raise RuntimeError(reply.decode(errors="replace"))
                    return reply[1:-2]
                if reply[:1] == b"$" and b"\r\n" in reply:
                    head, _, rest = reply.partition(b"\r\n")
                    size = int(head[1:])
                    if len(rest) >= size + 2:
                        return rest[:size]

    def logs(self) -> str:
        path = self.log_path
        return path.read_text(errors="replace") if path.exists() else ""

    def _spawn(self, timeout: float) -> None:
        self.starts += 1
        argv = [self.executable, "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--bind", self.host,
                "--dir", str(self.workdir), "--daemonize", "no",
                *self.extra_args]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        last_error: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self.proc.returncode} while "
                    f"starting on port {self.port}\n{self.logs()}")
            try:
                if self.command(b"PING", timeout=0.5) == b"PONG":
                    return
            except (OSError, RuntimeError) as exc:
                # LOADING (AOF replay) answers an error until it is done.
                last_error = exc
            # Polling interval while the server boots.
            time.sleep(0.01)
        self.kill()
        raise TimeoutError(
            f"redis-server did not answer PING on port {self.port} within "
            f"{timeout}s ({last_error})\n{self.logs()}")
