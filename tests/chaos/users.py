"""Drives ``users.mjs``: one Node.js process hosting every chaos user as a
``chatio-client`` ``ChatClient``, commanded over its stdin and stdout."""
from __future__ import annotations

import asyncio
import json
import random
import shutil
from pathlib import Path
from typing import Any

from support.tokens import mint_token

DRIVER = Path(__file__).resolve().parent / "users.mjs"
STDOUT_LIMIT = 64 * 1024 * 1024


def local_address(index: int) -> str:
    """A loopback source address per user, so that nginx's ``hash
    $remote_addr`` spreads the users over the nodes."""
    return f"127.0.{1 + index // 250}.{2 + index % 250}"


def plan_users(rng: random.Random, secret: str, *, users: int, rooms: int,
               rooms_per_user: int, polling_share: float) -> list[dict[str, Any]]:
    """Who the users are: ids, tokens, rooms, addresses and transports."""
    names = [f"room-{index + 1}" for index in range(rooms)]
    specs = []
    for index in range(users):
        user_id = f"user-{index + 1:03d}"
        transports = (["polling"] if rng.random() < polling_share
                      else ["websocket"])
        specs.append({"id": user_id,
                      "token": mint_token(secret, user_id, name=user_id),
                      "rooms": sorted(rng.sample(names, rooms_per_user)),
                      "localAddress": local_address(index),
                      "transports": transports})
    return specs


class UsersDriver:
    """The Node.js process and its command channel."""

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.workdir = workdir
        self.config_path = workdir / "users.json"
        self.config_path.write_text(json.dumps(config))
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> UsersDriver:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed (bash .ci/system-deps node)")
        self.stderr = open(self.workdir / "users.stderr.log", "wb")
        self.proc = await asyncio.create_subprocess_exec(
            node, str(DRIVER), str(self.config_path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=self.stderr, limit=STDOUT_LIMIT)
        return self

    async def request(self, cmd: str, timeout: float, **fields: Any) -> dict[str, Any]:
        """Sends one command and returns its reply (raises if it failed)."""
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"cmd": cmd, **fields}).encode() + b"\n")
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"the users process exited during {cmd!r}; see "
                               f"{self.workdir / 'users.stderr.log'}")
        reply = json.loads(line)
        if reply.get("reply") != cmd or not reply.get("ok"):
            raise RuntimeError(f"users process, {cmd!r}: {reply}")
        return reply

    async def report(self) -> dict[str, Any]:
        """Everything the users recorded: sends, views, statuses."""
        path = self.workdir / "users-report.json"
        await self.request("report", 120, path=str(path))
        return json.loads(path.read_text())

    async def close(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            await self.request("close", 30)
            await asyncio.wait_for(self.proc.wait(), 30)
        except (RuntimeError, asyncio.TimeoutError, BrokenPipeError,
                ConnectionResetError):
            self.proc.kill()
            await self.proc.wait()
