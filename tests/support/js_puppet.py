"""Official socket.io-client sockets, driven from Python tests.

``tests/js/support/puppet.mjs`` runs in node and obeys JSON requests on its
stdin; ``JsPuppet`` is its Python end. Python keeps control of the processes
(it can kill a node or Redis) while the sockets are the real JavaScript
client, with its own reconnection and multiplexing.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "support" / "puppet.mjs"
TIMEOUT = 10.0


def require_node() -> str:
    """node, with socket.io-client installed; fails under CI=true when
    missing, skips otherwise."""
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed"
    elif not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
        missing = "tests/js/node_modules is missing (run `make js-deps`)"
    if missing is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(missing + "; CI=true, so this is a failure",
                        pytrace=False)
        pytest.skip(missing)
    assert node is not None
    return node


class JsPuppet:
    """One node process holding any number of socket.io-client Managers."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[tuple[str, str, str], asyncio.Queue[Any]] = \
            defaultdict(asyncio.Queue)
        self.statuses: dict[tuple[str, str], asyncio.Queue[dict[str, Any]]] = \
            defaultdict(asyncio.Queue)
        # client -> the recovery offsets its /chat messages carried
        self.offsets: dict[str, list[str]] = defaultdict(list)
        self._reader = asyncio.create_task(self._read())

    # -- requests -----------------------------------------------------------

    async def request(self, op: str, timeout: float = TIMEOUT,
                      **fields: Any) -> dict[str, Any]:
        """Send one request and wait for its answer; raises on ``ok: false``."""
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        assert self._proc.stdin is not None
        self._proc.stdin.write(
            (json.dumps({"id": request_id, "op": op, **fields}) + "\n").encode())
        await self._proc.stdin.drain()
        answer = await asyncio.wait_for(future, timeout)
        if not answer.get("ok"):
            raise RuntimeError(f"{op} failed: {answer.get('error')}")
        return answer

    async def connect(self, client: str, url: str, token: str,
                      namespaces: Sequence[str], *,
                      transports: Sequence[str] = ("websocket",),
                      local_address: str | None = None,
                      reconnection: bool = False,
                      sessions: dict[str, dict[str, Any]] | None = None
                      ) -> None:
        """``sessions`` ({namespace: {pid, offset}}) makes the sockets
        present another connection's recovery state."""
        fields: dict[str, Any] = {
            "client": client, "url": url, "token": token,
            "namespaces": list(namespaces), "transports": list(transports),
            "reconnection": reconnection, "sessions": sessions or {}}
        if local_address is not None:
            fields["localAddress"] = local_address
        await self.request("connect", **fields)

    async def call(self, client: str, namespace: str, event: str,
                   payload: Any, timeout: float = TIMEOUT) -> Any:
        """Emit with an ack and return the ack."""
        answer = await self.request(
            "call", timeout=timeout + 1, client=client, namespace=namespace,
            event=event, payload=payload, timeoutMs=int(timeout * 1000))
        return answer["ack"]

    async def transport(self, client: str) -> str | None:
        return (await self.request("transport", client=client))["transport"]

    async def close(self, client: str) -> None:
        await self.request("close", client=client)

    async def session(self, client: str, namespace: str) -> dict[str, Any]:
        """The socket's sid, pid and last offset."""
        return await self.request("session", client=client,
                                  namespace=namespace)

    async def drop(self, client: str) -> None:
        """Close the client's transport as a lost network would."""
        await self.request("drop", client=client)

    async def rebind(self, client: str, local_address: str) -> None:
        """Make the client's next connections leave from ``local_address``."""
        await self.request("rebind", client=client, localAddress=local_address)

    # -- events -------------------------------------------------------------

    async def next(self, client: str, namespace: str, event: str,
                   timeout: float = TIMEOUT) -> Any:
        """The first argument of the next ``event`` the client received."""
        queue = self._events[(client, namespace, event)]
        return await asyncio.wait_for(queue.get(), timeout)

    def pending(self, client: str, namespace: str, event: str) -> list[Any]:
        """Events received and not yet taken, without waiting."""
        queue = self._events[(client, namespace, event)]
        taken = []
        while not queue.empty():
            taken.append(queue.get_nowait())
        return taken

    async def _read(self) -> None:
        assert self._proc.stdout is not None
        async for raw in self._proc.stdout:
            message = json.loads(raw)
            if "id" in message:
                future = self._pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
            elif "event" in message:
                args = message["args"]
                if message["event"] == "message" and len(args) == 2 and \
                        isinstance(args[1], str):
                    # The recovery offset every /chat message carries.
                    self.offsets[message["client"]].append(args[1])
                    args = args[:1]
                self._events[(message["client"], message["namespace"],
                              message["event"])].put_nowait(
                    args[0] if len(args) == 1 else args)
            elif "status" in message:
                self.statuses[(message["client"], message["namespace"])] \
                    .put_nowait(message)

    async def aclose(self) -> None:
        if self._proc.returncode is None:
            assert self._proc.stdin is not None
            with contextlib.suppress(ConnectionError):
                self._proc.stdin.write(b'{"op": "exit"}\n')
                await self._proc.stdin.drain()
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except asyncio.TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def js_puppet() -> AsyncIterator[JsPuppet]:
    """A running puppet, stopped (with its sockets) on exit."""
    node = require_node()
    proc = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), cwd=str(JS_DIR),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        limit=16 * 1024 * 1024)
    puppet = JsPuppet(proc)
    try:
        yield puppet
    finally:
        await puppet.aclose()
