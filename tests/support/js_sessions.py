"""Whole /chat sessions over the official socket.io-client (Node), run from
chosen local source addresses: ``tests/js/support/proxied-session.mjs``.

    reports = await run_sessions(proxy.url, [
        js_session(secret, "127.0.0.2", "polling"),
    ])
    assert reports[0].ok, reports[0].error

Each session connects ``alice-<tag>`` and ``bob-<tag>`` from one source
address; alice sends, bob receives it live and in ``history``. Without node
or ``tests/js/node_modules`` (``make js-deps``) a test fails when ``CI=true``
and is skipped otherwise.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from .tokens import mint_token

REPO = Path(__file__).resolve().parents[2]
JS_DIR = REPO / "tests" / "js"
SCRIPT = JS_DIR / "support" / "proxied-session.mjs"
STEP_TIMEOUT_MS = 5_000
TRANSPORTS = ("polling", "websocket", "upgrade")


def require_node_client() -> str:
    """The path of ``node``, once socket.io-client is installed for it."""
    node = shutil.which("node")
    if node is None:
        reason = "node is not installed (run `bash .ci/system-deps node`)"
    elif not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
        reason = "socket.io-client is not installed (run `make js-deps`)"
    else:
        return node
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + "; CI=true, so this is a failure", pytrace=False)
    pytest.skip(reason)


@dataclasses.dataclass(frozen=True)
class Session:
    local_address: str
    transport: str
    tag: str
    alice: str
    bob: str

    @property
    def room(self) -> str:
        return f"nginx-{self.tag}"

    @property
    def users(self) -> tuple[str, str]:
        return f"alice-{self.tag}", f"bob-{self.tag}"

    def as_json(self) -> dict[str, Any]:
        return {"localAddress": self.local_address,
                "transport": self.transport, "room": self.room,
                "text": f"hello from {self.local_address}",
                "clientId": f"c-{self.tag}",
                "alice": self.alice, "bob": self.bob}


@dataclasses.dataclass(frozen=True)
class Report:
    """What happened to one session: ``step`` is where it stopped."""

    local_address: str
    ok: bool
    step: str
    error: str | None
    transport: str | None
    seq: int | None


def js_session(secret: str, local_address: str, transport: str = "polling",
               tag: str | None = None) -> Session:
    """A session with fresh users (tokens signed with ``secret``)."""
    assert transport in TRANSPORTS, transport
    tag = tag or secrets.token_hex(4)
    return Session(local_address, transport, tag,
                   alice=mint_token(secret, f"alice-{tag}"),
                   bob=mint_token(secret, f"bob-{tag}"))


async def run_sessions(url: str, sessions: Sequence[Session], *,
                       step_timeout_ms: int = STEP_TIMEOUT_MS) -> list[Report]:
    """Run ``sessions`` concurrently in one Node process; a report each."""
    node = require_node_client()
    payload = json.dumps({"url": url, "timeoutMs": step_timeout_ms,
                          "sessions": [s.as_json() for s in sessions]})
    proc = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), payload, cwd=JS_DIR,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    # Every session step is bounded by step_timeout_ms; this bounds the rest.
    limit = step_timeout_ms / 1000 * 10 + 10
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise TimeoutError(f"the Node session runner took over {limit}s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"the Node session runner exited with "
                           f"{proc.returncode}\n{err.decode(errors='replace')}")
    return [Report(local_address=r["localAddress"], ok=r["ok"], step=r["step"],
                   error=r["error"], transport=r["transport"], seq=r["seq"])
            for r in json.loads(out)]
