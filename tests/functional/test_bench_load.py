"""The raw load generator of ``make bench-node`` (``bench/rawload.py``),
at a tiny size against a real ``chatio serve``: it counts every delivery
without decoding it, samples latency, and exits 0."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from support import ChatioProcess
from support.tokens import mint_token

BENCH = Path(__file__).resolve().parents[2] / "bench"
SECRET = "bench-smoke-secret-0123456789abcdef"
STEP_TIMEOUT = 15.0


@pytest.fixture
async def node(tmp_path: Path):
    process = ChatioProcess(
        env={"CHATIO_SECRET": SECRET, "CHATIO_HISTORY_BACKEND": "memory",
             "CHATIO_RATE_MESSAGES": "0", "LOG_LEVEL": "warning",
             "CHATIO_DATA_DIR": str(tmp_path / "data"),
             "CHATIO_SHUTDOWN_TIMEOUT": "2"},
        log_dir=tmp_path / "logs")
    await process.start()
    yield process
    if process.running:
        await process.terminate()


async def run_load(node: ChatioProcess, tmp_path: Path, mode: str,
                   clients: int, **sizes: Any) -> tuple[dict, dict]:
    """Run one mode through ready, go and done; both reports, after
    checking that the generator exits 0 once stdin closes."""
    config = {"mode": mode, "host": node.host, "port": node.port,
              "tokens": [mint_token(SECRET, f"user-{i}")
                         for i in range(clients)], **sizes}
    path = tmp_path / f"{mode}.json"
    path.write_text(json.dumps(config))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH / "rawload.py"), str(path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(),
                                                  STEP_TIMEOUT) or "null")
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        done = json.loads(await asyncio.wait_for(proc.stdout.readline(),
                                                 STEP_TIMEOUT) or "null")
        proc.stdin.close()
        _, stderr = await asyncio.wait_for(proc.communicate(), STEP_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode(errors="replace")
    assert ready["event"] == "ready" and done["event"] == "done"
    return ready, done


async def test_fanout_counts_every_delivery(node: ChatioProcess,
                                            tmp_path: Path) -> None:
    # 20 receivers and a sender; every 5th receiver decodes its frames.
    ready, done = await run_load(node, tmp_path, "fanout", 21, duration=2,
                                 window=8, sample_every=5, text_bytes=100)
    assert ready["clients"] == 21
    acked = done["acked"]
    assert acked > 10 and done["sent"] == acked
    assert done["refused"] == done["unacked"] == done["disconnects"] == 0
    assert done["deliveries"] == done["expected_deliveries"] == acked * 20
    assert done["min_per_receiver"] == done["max_per_receiver"] == acked
    assert done["drained"] is True
    assert done["latency_samples"] == 4 * acked
    assert 0 < done["latency_ms_p50"] <= done["latency_ms_p99"] < 2000
    assert done["deliveries_per_s"] > 0


async def test_chat_accounts_for_every_message(node: ChatioProcess,
                                               tmp_path: Path) -> None:
    # 20 clients in 2 rooms of 10, each sending once a second for 2 s.
    _, done = await run_load(node, tmp_path, "chat", 20, duration=2,
                             period=1, room_size=10, sample_every=2)
    assert done["sent"] == done["acked"] == 40
    assert done["deliveries"] == done["expected_deliveries"] == 40 * 9
    assert done["lost"] == done["unexpected"] == done["unacked"] == 0
    assert done["drained"] is True
    # 10 sampling clients, each receiving the 18 messages of its 9 peers.
    assert done["latency_samples"] == 10 * 18


async def test_idle_connects_every_client(node: ChatioProcess,
                                          tmp_path: Path) -> None:
    ready, done = await run_load(node, tmp_path, "idle", 30, room_size=10)
    assert ready["clients"] == 0
    assert done["connected"] == 30 and done["failed"] == 0
    assert done["connects_per_s"] > 0
