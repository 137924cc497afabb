"""Every line a node writes is one JSON object, even for requests the
engine.io layer refuses (an old protocol version, an unknown session)."""
from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from support.process import ChatioProcess


async def test_refused_engine_requests_are_answered_and_logged_as_json(
        tmp_path: Path) -> None:
    node = ChatioProcess({"CHATIO_SECRET": "e" * 32,
                          "CHATIO_DATA_DIR": str(tmp_path / "data"),
                          "LOG_LEVEL": "debug"}, tmp_path / "logs")
    await node.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{node.url}/socket.io/?EIO=3&transport=polling") as resp:
                assert resp.status == 400
                refusal = await resp.json()
                assert refusal["code"] == "PROTOCOL_ERROR"
                assert "engine.io 4" in refusal["message"]
            for bogus in ("nope", "x" * 300):
                async with http.get(f"{node.url}/socket.io/?EIO=4&transport=polling&sid={bogus}") as resp:
                    assert resp.status == 400
                    assert (await resp.json())["code"] == "UNKNOWN_SESSION"
    finally:
        assert await node.terminate() == 0
    lines = [line for line in node.all_output().splitlines() if line.strip()]
    assert lines
    for line in lines:
        json.loads(line)  # raises on a plain-text line
