"""SIGTERM under send load: clients reconnect at once, no acked message is lost
or stored twice, and the Procfile's own command serves chat."""
from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import socketio

from chatio.constants import CHAT_NAMESPACE
from support import ChatClient, ChatioProcess, mint_token
from support.process import VENV_BIN, ProcfileProcess

ROOM = "shutdown"
SENDS_PER_CLIENT = 150


class ReconnectingSender:
    """A python-socketio client with auto-reconnect that sends numbered
    messages, retrying each with its client_id until it is acked."""

    def __init__(self, name: str, transport: str, url: str, token: str) -> None:
        self.name, self.url, self.token = name, url, token
        self.transport = transport
        self.sio = socketio.AsyncClient(
            reconnection=True, reconnection_delay=0.1,
            reconnection_delay_max=0.5, handle_sigint=False)
        self.acked: dict[str, dict[str, Any]] = {}
        self.ready = asyncio.Event()
        self.dropped = asyncio.Event()
        self.connects = 0
        self.dropped_at = 0.0
        self.sio.on("connect", self._on_connect, namespace=CHAT_NAMESPACE)
        self.sio.on("disconnect", self._on_disconnect, namespace=CHAT_NAMESPACE)

    async def start(self) -> None:
        await self.sio.connect(self.url, auth={"token": self.token},
                               namespaces=[CHAT_NAMESPACE],
                               transports=[self.transport], wait_timeout=10)

    def _on_connect(self) -> None:
        self.connects += 1
        asyncio.get_running_loop().create_task(self._rejoin())

    def _on_disconnect(self, reason: Any = None) -> None:
        self.ready.clear()
        self.dropped_at = time.monotonic()
        self.dropped.set()

    async def _rejoin(self) -> None:
        try:
            ack = await self.sio.call("join", {"room": ROOM, "limit": 0},
                                      namespace=CHAT_NAMESPACE, timeout=5)
        except Exception:
            return  # the connection went away again; the next connect rejoins
        if ack.get("ok"):
            self.ready.set()

    async def send_all(self, count: int) -> None:
        for n in range(count):
            client_id = f"{self.name}-{n}"
            while client_id not in self.acked:
                await self.ready.wait()
                try:
                    ack = await self.sio.call(
                        "message", {"room": ROOM, "text": f"{self.name} {n}",
                                    "client_id": client_id},
                        namespace=CHAT_NAMESPACE, timeout=2)
                except (socketio.exceptions.TimeoutError,
                        socketio.exceptions.BadNamespaceError,
                        socketio.exceptions.DisconnectedError):
                    continue  # unknown outcome: resend the same client_id
                if ack["ok"]:
                    self.acked[client_id] = ack["message"]
                else:
                    assert ack["error"]["code"] in {"NOT_IN_ROOM", "UNAVAILABLE"}, ack

    async def wait_acked(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            assert time.monotonic() < deadline, f"{self.name}: only {len(self.acked)} acked"
            await asyncio.sleep(0.01)  # polls a counter the send loop advances

    async def close(self) -> None:
        await self.sio.disconnect()


async def read_whole_room(url: str, token: str) -> list[dict[str, Any]]:
    reader = ChatClient()
    await reader.connect(url, token)
    try:
        messages: list[dict[str, Any]] = []
        ack = await reader.join(ROOM, since=0, limit=200)
        messages += ack["history"]
        while ack["more"]:
            ack = await reader.history(ROOM, after=messages[-1]["seq"], limit=200)
            messages += ack["messages"]
        return messages
    finally:
        await reader.close()


async def test_sigterm_under_load_loses_no_acked_message(tmp_path: Path) -> None:
    secret = secrets.token_hex(16)
    node = ChatioProcess({"CHATIO_DATA_DIR": str(tmp_path / "data"),
                          "CHATIO_SECRET": secret,
                          "CHATIO_RATE_MESSAGES": "0"}, tmp_path / "logs")
    await node.start()
    senders = [ReconnectingSender(f"u{i}", transport, node.url,
                                  mint_token(secret, f"u{i}"))
               for i, transport in enumerate(["websocket", "polling"])]
    tasks: list[asyncio.Task[None]] = []
    try:
        for sender in senders:
            await sender.start()
            await asyncio.wait_for(sender.ready.wait(), 10)
            tasks.append(asyncio.create_task(sender.send_all(SENDS_PER_CLIENT)))
        for sender in senders:
            await sender.wait_acked(20, timeout=30)

        terminated_at = time.monotonic()
        exit_code = await node.terminate(timeout=15)
        assert exit_code == 0, node.logs()
        for sender in senders:
            # Both clients saw the drop at once, not after a ping timeout.
            await asyncio.wait_for(sender.dropped.wait(), 5)
            assert sender.dropped_at - terminated_at < 5, sender.name
        assert '"clients dropped for shutdown"' in node.stdout()

        await node.start()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        assert all(sender.connects >= 2 for sender in senders)

        stored = await read_whole_room(node.url, mint_token(secret, "auditor"))
        assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
        client_ids = [m["client_id"] for m in stored]
        assert len(client_ids) == len(set(client_ids)), "a message was stored twice"
        by_id = {m["id"]: m for m in stored}
        for sender in senders:
            assert len(sender.acked) == SENDS_PER_CLIENT
            for message in sender.acked.values():
                assert by_id.get(message["id"]) == message, "an acked message was lost"
        assert len(stored) == 2 * SENDS_PER_CLIENT
    finally:
        for task in tasks:
            task.cancel()
        for sender in senders:
            await sender.close()
        node.kill()


async def test_procfile_web_command_serves_chat(tmp_path: Path) -> None:
    secret = secrets.token_hex(16)
    node = ProcfileProcess({"CHATIO_DATA_DIR": str(tmp_path / "data"),
                            "CHATIO_SECRET": secret}, tmp_path / "logs")
    node.env["PORT"] = str(node.port)
    node.env["PATH"] = f"{VENV_BIN}:{node.env['PATH']}"  # gunicorn
    await node.start()
    alice, bob = ChatClient(), ChatClient(transports=("polling",))
    try:
        await alice.connect(node.url, mint_token(secret, "alice"))
        await bob.connect(node.url, mint_token(secret, "bob"))
        await alice.join("lobby")
        await bob.join("lobby")
        sent = await alice.send("lobby", "through gunicorn")
        received = await bob.next("message")
        assert received == sent["message"]
        # Stopped with both clients still connected.
        assert await node.terminate(timeout=15) == 0, node.logs()
    finally:
        await alice.close()
        await bob.close()
        if node.running:
            node.kill()
    output = node.all_output()
    assert "presence saved" in output
    # Neither a closed descriptor closed again nor a task left pending.
    assert "Bad file descriptor" not in output, output
    assert "Task was destroyed" not in output, output
