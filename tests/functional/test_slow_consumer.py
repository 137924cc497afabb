"""A client that stops reading cannot make the node hold unbounded output.

The node runs as a subprocess so its RSS is its own. One member of a busy
room never reads from its TCP socket (with a small receive buffer); the
node drops it once ``CHATIO_MAX_BUFFERED`` bytes wait for it, while the
other member keeps getting every message, in order and promptly.
"""
from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from support.client import ChatClient
from support.metrics import scrape
from support.process import ChatioProcess
from support.raw_ws import RawWebSocket
from support.tokens import mint_token

SECRET = "slow-consumer-test-secret-0123456789"
MAX_BUFFERED = 256 * 1024
MESSAGES = 3000
TEXT = "x" * 1900
# Far more than the node may buffer for the slow client, whatever the
# kernel's socket buffers take; a node without a bound would grow by about
# MESSAGES * len(TEXT) bytes.
RSS_GROWTH_LIMIT_KB = 40 * 1024


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
async def node(tmp_path: Path):
    process = ChatioProcess(env={
        "CHATIO_SECRET": SECRET, "CHATIO_HISTORY_BACKEND": "memory",
        "CHATIO_RATE_MESSAGES": "0", "CHATIO_MAX_BUFFERED": str(MAX_BUFFERED),
        "CHATIO_DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "warning"},
        log_dir=tmp_path / "logs")
    await process.start()
    yield process
    process.kill()


async def open_stalled_reader(url: str) -> RawWebSocket:
    """A member of "busy" whose socket then stops reading."""
    sock = await RawWebSocket.open(url)
    await sock.connect_namespace("/chat", mint_token(SECRET, "stalled"))
    sock.send_text('42/chat,1["join",{"room":"busy","limit":0}]')
    assert (await sock.packet()).startswith("43/chat,1")
    raw = sock.writer.get_extra_info("socket")
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.writer.transport.pause_reading()
    return sock


async def test_a_client_that_stops_reading_is_dropped_and_others_carry_on(node):
    stalled = await open_stalled_reader(node.url)
    sender, watcher = ChatClient(), ChatClient()
    try:
        await sender.connect(node.url, mint_token(SECRET, "sender"))
        await watcher.connect(node.url, mint_token(SECRET, "watcher"))
        await sender.join("busy")
        await watcher.join("busy")
        before = rss_kb(node.proc.pid)
        peak = before
        latencies: list[float] = []
        seqs: list[int] = []
        for start in range(0, MESSAGES, 50):
            sent_at = time.monotonic()
            acks = await asyncio.gather(*(sender.send("busy", TEXT)
                                          for _ in range(50)))
            assert all(ack["ok"] for ack in acks)
            got = await watcher.collect("message", 50)
            latencies.append(time.monotonic() - sent_at)
            seqs += [m["seq"] for m in got]
            peak = max(peak, rss_kb(node.proc.pid))
        metrics = await scrape(node.url)
        assert metrics.value("chatio_slow_consumer_disconnects_total") == 1
        assert seqs == sorted(seqs) and len(set(seqs)) == MESSAGES
        assert peak - before < RSS_GROWTH_LIMIT_KB, (before, peak)
        # The watcher's batches kept flowing after the drop as before it.
        latencies.sort()
        assert latencies[len(latencies) // 2] < 1.0, latencies
        sockets = metrics.value("chatio_connected_sockets", namespace="/chat")
        assert sockets == 2
    finally:
        await sender.close()
        await watcher.close()
        await stalled.aclose()


def _node_env(tmp_path: Path) -> dict[str, str]:
    return {"CHATIO_SECRET": SECRET, "CHATIO_DATA_DIR": str(tmp_path / "data"),
            "CHATIO_RATE_MESSAGES": "0", "CHATIO_SHUTDOWN_TIMEOUT": "10",
            "LOG_LEVEL": "info"}


async def _stall_and_fill(url: str) -> RawWebSocket:
    """A stalled member of "busy", with output waiting for it."""
    stalled = await open_stalled_reader(url)
    sender = ChatClient()
    try:
        await sender.connect(url, mint_token(SECRET, "sender"))
        await sender.join("busy")
        for _ in range(10):
            await asyncio.gather(*(sender.send("busy", TEXT) for _ in range(50)))
    finally:
        await sender.close()
    return stalled


@pytest.mark.parametrize("runner", ["serve", "procfile"])
async def test_sigterm_with_a_stalled_client_stays_within_the_timeout(
        tmp_path: Path, runner: str) -> None:
    from support.process import VENV_BIN, ProcfileProcess
    if runner == "serve":
        node = ChatioProcess(_node_env(tmp_path), tmp_path / "logs")
    else:
        node = ProcfileProcess(_node_env(tmp_path), tmp_path / "logs")
        node.env["PORT"] = str(node.port)
        node.env["PATH"] = f"{VENV_BIN}:{node.env['PATH']}"
    await node.start()
    stalled = await _stall_and_fill(node.url)
    try:
        started = time.monotonic()
        assert await node.terminate(timeout=15) == 0, node.logs()
        took = time.monotonic() - started
        # Far inside CHATIO_SHUTDOWN_TIMEOUT (10 s): nothing waits for the
        # stalled client to read.
        assert took < 5.0, (took, node.logs())
        assert "presence saved" in node.logs()
    finally:
        await stalled.aclose()
        if node.running:
            node.kill()
