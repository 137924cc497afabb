"""Run ``chatio serve`` as a real subprocess, the way an operator would."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from .net import free_port

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0

# Variables the node reads; the parent environment must not leak into tests.
_NODE_VARIABLES = ("HOST", "PORT", "LOG_LEVEL")


def clean_environ() -> dict[str, str]:
    """The parent environment without any chatio configuration."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith("CHATIO_") and key not in _NODE_VARIABLES}


class ChatioProcess:
    """``chatio serve --host 127.0.0.1 --port P`` in a subprocess.

    stdout and stderr go to files under ``log_dir`` (one pair per start, so
    a restart keeps the earlier logs for debugging).
    """

    def __init__(self, env: Mapping[str, str], log_dir: Path,
                 port: int | None = None, host: str = "127.0.0.1") -> None:
        self.env = {**clean_environ(), **env}
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.stdout_path: Path | None = None
        self.stderr_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def command(self) -> list[str]:
        return [str(VENV_BIN / "chatio"), "serve",
                "--host", self.host, "--port", str(self.port)]

    async def start(self, timeout: float = START_TIMEOUT) -> ChatioProcess:
        """Start the node and wait until ``GET /healthz`` answers 200."""
        assert self.proc is None or self.proc.poll() is not None, \
            "the node is already running"
        self.starts += 1
        self.stdout_path = self.log_dir / f"stdout.{self.starts}.log"
        self.stderr_path = self.log_dir / f"stderr.{self.starts}.log"
        with open(self.stdout_path, "wb") as out, \
                open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, start_new_session=True)
        await self._wait_healthy(timeout)
        return self

    async def restart(self, timeout: float = START_TIMEOUT) -> ChatioProcess:
        """Stop gracefully (if running) and start again on the same port."""
        if self.running:
            await self.terminate()
        return await self.start(timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then wait for the exit; returns the exit code.

        Raises ``TimeoutError`` (after killing the process) if it does not
        exit within ``timeout``.
        """
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(
                f"chatio did not exit within {timeout}s of SIGTERM\n"
                + self.logs()) from None

    def kill(self) -> int | None:
        """SIGKILL (no graceful stop); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(STOP_TIMEOUT)

    def stdout(self) -> str:
        return _read(self.stdout_path)

    def stderr(self) -> str:
        return _read(self.stderr_path)

    def all_output(self) -> str:
        """stdout and stderr of every start so far."""
        parts = []
        for path in sorted(self.log_dir.glob("std*.log")):
            parts.append(_read(path))
        return "\n".join(parts)

    def logs(self) -> str:
        return (f"--- stdout ({self.stdout_path}) ---\n{self.stdout()}\n"
                f"--- stderr ({self.stderr_path}) ---\n{self.stderr()}")

    async def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error: object = None
        async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"chatio exited with {self.proc.returncode} while "
                        f"starting\n{self.logs()}")
                try:
                    async with session.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                        last_error = f"HTTP {resp.status}"
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    last_error = exc
                # Polling interval while the process boots.
                await asyncio.sleep(0.05)
        self.kill()
        raise TimeoutError(f"chatio did not become healthy within {timeout}s "
                           f"({last_error})\n{self.logs()}")


def _read(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    return path.read_text(errors="replace")


class ProcfileProcess(ChatioProcess):
    """Runs the Procfile's ``web:`` line exactly, through a shell; set
    ``env["PORT"]`` to ``port`` and put gunicorn on ``env["PATH"]``."""

    @property
    def command(self) -> list[str]:
        procfile = (REPO / "Procfile").read_text()
        web = re.search(r"^web:\s*(.+)$", procfile, re.MULTILINE)
        assert web, "the Procfile has no web: line"
        return ["bash", "-c", web.group(1)]
