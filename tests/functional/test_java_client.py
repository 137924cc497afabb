"""The official Java client (``io.socket:socket.io-client`` 2.x, as Android
apps use it) against real ``chatio serve`` nodes, through
``tests/java/``'s program: the token in ``auth``, chat with a python-socketio
user, errors, a gap, a restart of the node (SIGTERM, or kill -9) while it
is connected, after which it has every message exactly once, and room
histories that started over (a new epoch). The Java class of ``docs/client.md``
runs across a restart too."""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from support import ChatClient, ChatioProcess, mint_token
from support.http import bearer, request
from support.java_puppet import (JVM_OPTIONS, ConnectRefused, JavaPuppet,
                                 java_puppet, java_puppet_jar)

API_KEY = "java-client-test-api-key-0123456789"
ROOM = "lobby"
CLIENT_DOCS = Path(__file__).resolve().parents[2] / "docs" / "client.md"
SNIPPET_TIMEOUT = 30.0


@pytest.fixture(scope="module", autouse=True)
def built_puppet() -> None:
    """Build the Java program once, before any node starts."""
    java_puppet_jar()


@pytest.fixture
async def start_node(tmp_path: Path, secret: str
                     ) -> AsyncIterator[Callable[..., Awaitable[ChatioProcess]]]:
    """Start a node on SQLite with the server API, ``env`` added; nodes a
    test left running are killed."""
    started: list[ChatioProcess] = []

    async def start(**env: str) -> ChatioProcess:
        name = f"node-{len(started) + 1}"
        process = ChatioProcess(
            env={"CHATIO_SECRET": secret, "CHATIO_API_KEY": API_KEY,
                 "CHATIO_DATA_DIR": str(tmp_path / name / "data"),
                 "CHATIO_HISTORY_BACKEND": "sqlite",
                 "CHATIO_RATE_MESSAGES": "1000/1000",
                 "CHATIO_SHUTDOWN_TIMEOUT": "5", **env},
            log_dir=tmp_path / name / "logs")
        started.append(process)
        return await process.start()
    yield start
    for process in started:
        if process.running:
            process.kill()


@pytest.fixture
async def node(start_node: Callable[..., Awaitable[ChatioProcess]]
               ) -> ChatioProcess:
    return await start_node()


@pytest.fixture
async def java(tmp_path: Path) -> AsyncIterator[Callable[[], Awaitable[JavaPuppet]]]:
    """Start Java puppets; all are stopped when the test ends."""
    async with contextlib.AsyncExitStack() as stack:
        starts = itertools.count(1)

        async def start() -> JavaPuppet:
            log = tmp_path / f"java-{next(starts)}.stderr.log"
            return await stack.enter_async_context(java_puppet(log))
        yield start


@pytest.fixture
async def python_clients() -> AsyncIterator[Callable[..., Awaitable[ChatClient]]]:
    """python-socketio users, closed when the test ends."""
    made: list[ChatClient] = []

    async def connect(url: str, token: str) -> ChatClient:
        client = ChatClient()
        made.append(client)
        return await client.connect(url, token)
    yield connect
    for client in made:
        await client.close()


async def publish(node: ChatioProcess, text: str) -> dict[str, Any]:
    """A message from bob through the server API; returns the stored one."""
    status, body = await request(
        "POST", f"{node.url}/api/publish", headers=bearer(API_KEY),
        json={"room": ROOM, "text": text, "user": {"id": "bob", "name": "Bob"},
              "client_id": secrets.token_hex(8)})
    assert status == 200, body
    return body["message"]


def seqs_and_texts(entries: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(entry["seq"], entry["text"]) for entry in entries]


async def test_java_client_connects_with_its_token_in_auth_and_chats(
        node, java, python_clients, secret):
    alice = await java()
    transport = await alice.connect(
        node.url, mint_token(secret, "alice", name="Alice"))
    assert transport == "websocket"
    join = await alice.join(ROOM)
    assert join["ok"] is True
    assert join["room"] == ROOM
    assert join["history"] == []
    assert join["last_seq"] == 0

    bob = await python_clients(node.url, mint_token(secret, "bob", name="Bob"))
    await bob.join(ROOM)
    sent = await alice.send(ROOM, "hello from java", client_id="java-1")
    assert sent["ok"] is True
    assert sent["duplicate"] is False
    assert sent["message"]["user"] == {"id": "alice", "name": "Alice"}
    assert sent["message"]["seq"] == 1
    received = await bob.next("message")
    assert received == sent["message"]

    reply = (await bob.send(ROOM, "hello from python"))["message"]
    event = await alice.next_event("message")
    assert event[0] == reply
    # The app shows its own message (from the ack) and bob's, in seq order.
    assert await alice.delivered(2) == [sent["message"], reply]

    again = await alice.send(ROOM, "hello from java", client_id="java-1")
    assert again["duplicate"] is True
    assert again["message"] == sent["message"]
    # A join from the start pages in both again; the app drops them by seq,
    # as it dropped the duplicate send's message.
    rejoin = await alice.join(ROOM, since=0)
    assert rejoin["history"] == [sent["message"], reply]
    state = await alice.state()
    assert state["connected"] is True
    assert state["connects"] == 1
    assert state["rooms"][ROOM]["last_seq"] == 2
    assert state["rooms"][ROOM]["duplicates"] == 3
    assert alice.delivered_now() == []


async def test_java_client_is_refused_with_a_bad_token(node, java, secret):
    alice = await java()
    with pytest.raises(ConnectRefused) as refused:
        await alice.connect(node.url, mint_token(secret + "x", "alice"))
    assert refused.value.data["data"]["code"] == "UNAUTHORIZED"
    assert (await alice.state())["connected"] is False


async def test_java_client_gets_chatio_error_and_invalid_payload_acks(
        node, java, secret):
    alice = await java()
    await alice.connect(node.url, mint_token(secret, "alice"))
    await alice.join(ROOM)

    await alice.emit("message", {"room": ROOM, "text": 5})
    error = await alice.next_event("chatio_error")
    assert error[0]["event"] == "message"
    assert error[0]["error"]["code"] == "INVALID_PAYLOAD"
    assert error[0]["error"]["retryable"] is False
    assert "text" in error[0]["error"]["details"]

    ack = await alice.call("join", {"room": ROOM, "since": "5"})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "INVALID_PAYLOAD"
    assert "since" in ack["error"]["details"]
    ack = await alice.call("message", "not an object")
    assert ack["ok"] is False
    assert ack["error"]["code"] == "INVALID_PAYLOAD"

    # Nothing was stored, and the socket is still in the room.
    state = await alice.state()
    assert state["connected"] is True
    sent = await alice.send(ROOM, "still here", client_id="after-errors")
    assert sent["message"]["seq"] == 1
    assert await alice.delivered(1) == [sent["message"]]


async def test_java_client_carries_on_from_the_oldest_kept_message_after_a_gap(
        start_node, java, secret):
    node = await start_node(CHATIO_HISTORY_RETENTION="5")
    published = [await publish(node, f"m{i}") for i in range(1, 11)]
    alice = await java()
    await alice.connect(node.url, mint_token(secret, "alice"))
    # The app had seq 2; retention kept 6 to 10 only.
    ack = await alice.join(ROOM, since=2)
    assert ack["gap"] is True
    assert ack["history"] == published[5:]
    assert await alice.delivered(5) == published[5:]
    live = await publish(node, "m11")
    assert await alice.delivered(1) == [live]
    state = await alice.state()
    assert state["rooms"][ROOM]["last_seq"] == 11
    assert state["rooms"][ROOM]["held"] == 0


@pytest.mark.parametrize(("transport", "stop"), [
    ("websocket", "sigterm"), ("polling", "sigterm"), ("websocket", "sigkill")])
async def test_java_client_has_every_message_once_across_a_node_restart(
        node, java, python_clients, secret, transport, stop):
    alice = await java()
    # A fixed, unhurried retry. Messages published right after the restart
    # race the client's return: those stored before its rejoin come in the
    # join's history, the others live. Either way each must arrive once.
    assert await alice.connect(
        node.url, mint_token(secret, "alice", name="Alice"),
        transports=[transport], reconnection_delay_ms=1000,
        reconnection_delay_max_ms=1000) == transport
    await alice.join(ROOM)
    bob = await python_clients(node.url, mint_token(secret, "bob", name="Bob"))
    await bob.join(ROOM)

    before = [(await bob.send(ROOM, f"before {i}"))["message"] for i in range(3)]
    before.append((await alice.send(ROOM, "java before", "java-before"))["message"])
    assert await alice.delivered(4) == before
    await bob.close()

    if stop == "sigterm":
        assert await node.terminate() == 0, node.logs()
    else:
        node.kill()  # SQLite keeps every acked message
    await alice.next_status("disconnect")
    await node.start()

    missed = [await publish(node, f"while away {i}") for i in range(5)]
    rejoin = await alice.next_rejoin()
    assert rejoin.get("rejoined") == ROOM, rejoin
    assert rejoin["since"] == before[-1]["seq"]
    assert rejoin["ack"]["ok"] is True

    live = [await publish(node, f"after return {i}") for i in range(2)]
    bob = await python_clients(node.url, mint_token(secret, "bob", name="Bob"))
    await bob.join(ROOM)
    live.append((await bob.send(ROOM, "bob is back"))["message"])
    live.append((await alice.send(ROOM, "java after", "java-after"))["message"])

    expected = before + missed + live
    # The rejoin's page starts right after what the client had.
    page = rejoin["ack"]["history"]
    assert page == expected[len(before):len(before) + len(page)]
    assert [m["seq"] for m in expected] == list(range(1, len(expected) + 1))
    shown = before + await alice.delivered(len(missed) + len(live))
    # A round trip on the socket: anything still on its way has arrived.
    await alice.call("history", {"room": ROOM, "limit": 1})
    shown += alice.delivered_now()
    assert seqs_and_texts(shown) == seqs_and_texts(expected)
    assert [m["id"] for m in shown] == [m["id"] for m in expected]

    state = await alice.state()
    assert state["connected"] is True
    assert state["connects"] == 2
    assert state["transport"] == transport
    assert state["rooms"][ROOM]["last_seq"] == expected[-1]["seq"]
    assert state["rooms"][ROOM]["held"] == 0


async def test_java_client_sees_a_history_that_started_over_as_a_gap(
        node, java, secret):
    alice = await java()
    await alice.connect(node.url, mint_token(secret, "alice"),
                        reconnection_delay_ms=1000,
                        reconnection_delay_max_ms=1000)
    first = await alice.join(ROOM)
    old = [await publish(node, f"old {i}") for i in range(3)]
    assert await alice.delivered(3) == old
    assert {m["epoch"] for m in old} == {first["epoch"]}

    assert await node.terminate() == 0, node.logs()
    await alice.next_status("disconnect")
    database = list(Path(node.env["CHATIO_DATA_DIR"]).glob("chatio.sqlite3*"))
    assert database
    for path in database:
        path.unlink()
    await node.start()
    new = [await publish(node, f"new {i}") for i in range(2)]
    assert [m["seq"] for m in new] == [1, 2]
    assert new[0]["epoch"] != first["epoch"]

    rejoin = await alice.next_rejoin()
    assert rejoin.get("rejoined") == ROOM, rejoin
    assert (rejoin["since"], rejoin["epoch"]) == (3, first["epoch"])
    assert rejoin["ack"]["gap"] is True
    assert rejoin["ack"]["epoch"] == new[0]["epoch"]
    # Seqs 1 and 2 of the new history are new messages, not duplicates.
    assert await alice.delivered(2) == new
    await alice.call("history", {"room": ROOM, "limit": 1})
    assert alice.delivered_now() == []
    room = (await alice.state())["rooms"][ROOM]
    assert (room["epoch"], room["last_seq"]) == (new[0]["epoch"], 2)
    assert room["resets"] == 1


async def test_java_client_rejoins_when_a_live_message_is_of_another_epoch(
        start_node, java, secret, redis_server, redis_prefix):
    node = await start_node(CHATIO_REDIS_URL=redis_server.url,
                            CHATIO_REDIS_PREFIX=redis_prefix,
                            CHATIO_NODE_ID="java-epochs")
    alice = await java()
    await alice.connect(node.url, mint_token(secret, "alice"))
    epoch = (await alice.join(ROOM))["epoch"]
    old = [await publish(node, f"old {i}") for i in range(3)]
    assert await alice.delivered(3) == old

    # The room's Redis keys are lost while the client stays connected.
    redis = aioredis.Redis.from_url(redis_server.url)
    try:
        keys = [key async for key in redis.scan_iter(
            f"{redis_prefix}:room:{{{ROOM}}}:*")]
        assert keys
        assert await redis.delete(*keys) == len(keys)
    finally:
        await redis.aclose()

    fresh = await publish(node, "after the reset")
    assert fresh["seq"] == 1 and fresh["epoch"] != epoch
    rejoin = await alice.next_rejoin()
    assert (rejoin["since"], rejoin["epoch"]) == (3, epoch)
    assert rejoin["ack"]["gap"] is True
    assert rejoin["ack"]["epoch"] == fresh["epoch"]
    assert await alice.delivered(1) == [fresh]
    after = await publish(node, "and on")
    assert await alice.delivered(1) == [after]
    await alice.call("history", {"room": ROOM, "limit": 1})
    assert alice.delivered_now() == []
    room = (await alice.state())["rooms"][ROOM]
    assert (room["epoch"], room["last_seq"], room["resets"]) == \
        (fresh["epoch"], 2, 1)


def docs_java_class() -> str:
    """The ``java`` block of ``docs/client.md`` that holds ``class ChatioChat``."""
    blocks = re.findall(r"^```java\n(.*?)^```$", CLIENT_DOCS.read_text(),
                        re.MULTILINE | re.DOTALL)
    found = [block for block in blocks if "public class ChatioChat" in block]
    assert len(found) == 1, "docs/client.md must hold one ChatioChat block"
    return found[0]


class ShownLines:
    """What the docs' program printed, line by line, with a timeout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    async def next(self) -> str:
        assert self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(),
                                      SNIPPET_TIMEOUT)
        assert line, "the program exited"
        return line.decode().rstrip("\n")

    async def type(self, text: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(text.encode() + b"\n")
        await self._proc.stdin.drain()


async def test_the_java_class_in_the_client_docs_shows_each_message_once_across_restarts(
        node, secret, tmp_path):
    java, jar = java_puppet_jar()
    source = tmp_path / "ChatioChat.java"
    source.write_text(docs_java_class())
    await publish(node, "one")
    with open(tmp_path / "docs-java.stderr.log", "wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            java, *JVM_OPTIONS, "-cp", str(jar), str(source), node.url,
            mint_token(secret, "ada", name="Ada"), ROOM,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=stderr)
    lines = ShownLines(proc)
    try:
        assert await lines.next() == "#1 Bob: one"
        await lines.type("hello")
        assert await lines.next() == "#2 Ada: hello"

        assert await node.terminate() == 0, node.logs()
        await node.start()
        await publish(node, "two")
        await publish(node, "three")
        assert await lines.next() == "#3 Bob: two"
        assert await lines.next() == "#4 Bob: three"
        await lines.type("bye")
        assert await lines.next() == "#5 Ada: bye"
        await publish(node, "four")
        assert await lines.next() == "#6 Bob: four"

        # The room's history starts over: seqs from 1 again, in a new epoch.
        assert await node.terminate() == 0, node.logs()
        for path in Path(node.env["CHATIO_DATA_DIR"]).glob("chatio.sqlite3*"):
            path.unlink()
        await node.start()
        await publish(node, "fresh")
        assert await lines.next() == "#1 Bob: fresh"
        await lines.type("again")
        assert await lines.next() == "#2 Ada: again"

        assert proc.stdin is not None
        proc.stdin.close()
        assert await asyncio.wait_for(proc.wait(), SNIPPET_TIMEOUT) == 0
        assert proc.stdout is not None
        assert await proc.stdout.read() == b""
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
