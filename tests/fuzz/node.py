"""The chatio node under fuzz: a real ``chatio serve`` subprocess, its
memory and its metrics."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from support.process import ChatioProcess

HOST = "127.0.0.1"
MAX_PAYLOAD = 65_536
RSS_SAMPLE_INTERVAL = 0.25
# Seconds of the node's ping interval and ping timeout.
HEARTBEAT = 3


def node_env(workdir: Path, secret: str, backend: str) -> dict[str, str]:
    """A single node with its documented defaults, but for its own secret,
    data directory and history store, and a short heartbeat: a long-poll
    client that walks away between two requests has no connection to lose,
    so only the heartbeat ends its session, and the leftover check must see
    that happen."""
    return {
        "CHATIO_SECRET": secret,
        "CHATIO_DATA_DIR": str(workdir / "data"),
        "CHATIO_HISTORY_BACKEND": backend,
        "CHATIO_MAX_PAYLOAD": str(MAX_PAYLOAD),
        "CHATIO_PING_INTERVAL": str(HEARTBEAT),
        "CHATIO_PING_TIMEOUT": str(HEARTBEAT),
        "LOG_LEVEL": "info",
    }


@contextlib.asynccontextmanager
async def running_node(workdir: Path, backend: str = "sqlite") -> AsyncIterator[tuple[ChatioProcess, str]]:
    """Start a node on a free loopback port; yields it and its secret."""
    secret = "fuzz-secret-" + secrets.token_hex(16)
    node = ChatioProcess(node_env(workdir, secret, backend), workdir / "logs",
                         host=HOST)
    await node.start()
    try:
        yield node, secret
    finally:
        if node.running:
            with contextlib.suppress(TimeoutError):
                await node.terminate()


def rss_kib(pid: int) -> int:
    """The process's resident set size (``VmRSS``) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """The highest RSS seen while running, sampled in the background."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_kib(pid)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RssSampler:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _sample(self) -> None:
        while True:
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except (OSError, RuntimeError):
                return  # the process is gone: "node alive" reports it
            await asyncio.sleep(RSS_SAMPLE_INTERVAL)


async def healthy(url: str, timeout: float) -> bool:
    try:
        async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            async with http.get(url + "/healthz") as response:
                return response.status == 200 and (await response.json()) == {"ok": True}
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return False


async def connected_sockets(url: str, timeout: float) -> dict[str, float]:
    """``chatio_connected_sockets`` per namespace, and
    ``chatio_transport_sessions`` where the node has it."""
    async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        async with http.get(url + "/metrics") as response:
            text = await response.text()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "chatio_connected_sockets":
            for sample in family.samples:
                found[sample.labels["namespace"]] = sample.value
        elif family.name == "chatio_transport_sessions":
            found["engine.io"] = family.samples[0].value
    return found


async def wait_no_sockets(url: str, timeout: float, at_most: float = 0,
                          interval: float = 0.1) -> tuple[bool, dict[str, float], float]:
    """Poll the gauge until its sum over namespaces is at most ``at_most``
    (0: no socket at all); (ok, last reading, seconds waited)."""
    start = time.monotonic()
    last: dict[str, float] = {}
    while True:
        try:
            last = await connected_sockets(url, max(1.0, min(timeout, 5.0)))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return False, {"unreachable": repr(exc)}, time.monotonic() - start  # type: ignore[dict-item]
        elapsed = time.monotonic() - start
        if sum(last.values()) <= at_most:
            return True, last, elapsed
        if elapsed > timeout:
            return False, last, elapsed
        await asyncio.sleep(interval)


def error_log(node: ChatioProcess, limit: int = 8) -> list[str]:
    """The node's error records, grouped by message and exception line."""
    counts: Counter[str] = Counter()
    for line in node.all_output().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("level") not in ("error", "critical"):
            continue
        counts[f"{record.get('logger')}: {record.get('msg', '')[:80]} | "
               f"{_exception_line(record.get('traceback') or '')[:160]}"] += 1
    return [f"{count:6d}  {key}" for key, count in counts.most_common(limit)]


def signalled(node: ChatioProcess) -> str:
    """A note when the node went through its graceful shutdown, which only
    SIGTERM or SIGINT start: something outside the fuzzer stopped it."""
    if "clients dropped for shutdown" in node.stdout():
        return (" (its log shows a graceful shutdown: a SIGTERM or SIGINT "
                "from outside the fuzzer stopped it, not a packet)")
    code = node.proc.poll() if node.proc is not None else None
    return f" (exit status {code})" if code is not None else ""


def _exception_line(traceback: str) -> str:
    """The ``SomeError: reason`` line of a traceback."""
    for line in reversed(traceback.splitlines()):
        text = line.strip()
        if re.match(r"[A-Za-z_][\w.]*(: |$)", text) and not text.startswith("File "):
            return text
    return traceback.strip().splitlines()[-1].strip() if traceback.strip() else ""
