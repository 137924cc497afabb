"""The official Socket.IO client for Java, driven from Python tests.

``tests/java/`` is a small Maven project around ``io.socket:socket.io-client``
(the client Android apps use). Its program obeys JSON requests on stdin and
reports on stdout, one object per line; ``JavaPuppet`` is the Python end.
Unlike the JS puppet it is an app as well as a client: it rejoins its rooms
with ``since`` on every reconnect and de-duplicates by ``seq``, and reports
what it shows as ``delivered`` entries.

``java_puppet_jar()`` builds the program with ``mvn -q -B package`` when the
jar is missing or older than its sources (``make java-deps`` does the same).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import os
import shutil
import subprocess
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

JAVA_DIR = Path(__file__).resolve().parents[1] / "java"
JAR = JAVA_DIR / "target" / "chatio-java-puppet.jar"
BUILD_TIMEOUT = 600.0
TIMEOUT = 15.0
# A small client: a small heap, one GC thread, quick start-up over peak speed.
JVM_OPTIONS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


class ConnectRefused(Exception):
    """The node refused the connection; ``data`` is the ``connect_error``."""

    def __init__(self, data: Any) -> None:
        super().__init__(f"connect_error: {data!r}")
        self.data = data


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(what + "; CI=true, so this is a failure", pytrace=False)
    pytest.skip(what)


def _sources() -> list[Path]:
    return [JAVA_DIR / "pom.xml", *sorted((JAVA_DIR / "src").rglob("*.java"))]


def _stale() -> bool:
    if not JAR.exists():
        return True
    built = JAR.stat().st_mtime
    return any(path.stat().st_mtime > built for path in _sources())


@functools.cache
def _build(mvn: str) -> None:
    result = subprocess.run(
        [mvn, "-q", "-B", "package"], cwd=JAVA_DIR,
        capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"mvn package failed in {JAVA_DIR}:\n"
                           f"{result.stdout}\n{result.stderr}")


def java_puppet_jar() -> tuple[str, Path]:
    """``java`` and the puppet's jar, built when stale; a missing ``java`` or
    ``mvn`` fails under CI=true and skips otherwise."""
    java = shutil.which("java")
    if java is None:
        _missing("java is not installed (run `make java-deps`)")
    if _stale():
        mvn = shutil.which("mvn")
        if mvn is None:
            _missing("mvn is not installed (run `make java-deps`)")
        _build(mvn)
    assert java is not None
    return java, JAR


class JavaPuppet:
    """One JVM holding one ``/chat`` socket of the Java client."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[str, asyncio.Queue[list[Any]]] = \
            defaultdict(asyncio.Queue)
        self._statuses: dict[str, asyncio.Queue[dict[str, Any]]] = \
            defaultdict(asyncio.Queue)
        self._delivered: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._rejoins: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    # -- requests -----------------------------------------------------------

    async def request(self, op: str, timeout: float = TIMEOUT,
                      **fields: Any) -> dict[str, Any]:
        """Send one request and wait for its answer; raises on ``ok: false``."""
        answer = await self._request(op, timeout, fields)
        if not answer.get("ok"):
            raise RuntimeError(f"{op} failed: {answer.get('error')}")
        return answer

    async def _request(self, op: str, timeout: float,
                       fields: dict[str, Any]) -> dict[str, Any]:
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        assert self._proc.stdin is not None
        self._proc.stdin.write(
            (json.dumps({"id": request_id, "op": op, **fields}) + "\n").encode())
        await self._proc.stdin.drain()
        return await asyncio.wait_for(future, timeout)

    async def connect(self, url: str, token: str, *,
                      transports: Sequence[str] = ("websocket",),
                      reconnection_delay_ms: int = 100,
                      reconnection_delay_max_ms: int = 500) -> str:
        """Connect ``/chat`` with ``token`` in ``auth``; returns the transport.

        Raises ``ConnectRefused`` with the ``connect_error`` data on a refusal.
        """
        answer = await self._request("connect", TIMEOUT, {
            "url": url, "token": token, "transports": list(transports),
            "reconnectionDelayMs": reconnection_delay_ms,
            "reconnectionDelayMaxMs": reconnection_delay_max_ms})
        if not answer.get("ok"):
            if answer.get("error") == "connect_error":
                raise ConnectRefused(answer.get("data"))
            raise RuntimeError(f"connect failed: {answer.get('error')}")
        return answer["transport"]

    async def join(self, room: str, since: int | None = None) -> dict[str, Any]:
        fields: dict[str, Any] = {"room": room}
        if since is not None:
            fields["since"] = since
        return (await self.request("join", **fields))["ack"]

    async def send(self, room: str, text: str, client_id: str) -> dict[str, Any]:
        """Send a message with an ack; returns the ack."""
        return (await self.request("send", room=room, text=text,
                                   client_id=client_id))["ack"]

    async def call(self, event: str, payload: Any,
                   timeout: float = TIMEOUT) -> Any:
        """Emit ``event`` with one payload and an ack, as it is; returns the
        ack's first argument."""
        answer = await self.request("call", timeout=timeout + 1, event=event,
                                    payload=payload,
                                    timeoutMs=int(timeout * 1000))
        return answer["ack"][0]

    async def emit(self, event: str, payload: Any) -> None:
        """Emit ``event`` with one payload and no ack."""
        await self.request("emit", event=event, payload=payload)

    async def state(self) -> dict[str, Any]:
        return await self.request("state")

    # -- reports ------------------------------------------------------------

    async def next_event(self, event: str, timeout: float = TIMEOUT) -> list[Any]:
        """The arguments of the next ``event`` the socket received."""
        return await asyncio.wait_for(self._events[event].get(), timeout)

    async def next_status(self, status: str,
                          timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next ``connect``, ``disconnect`` or ``connect_error``."""
        return await asyncio.wait_for(self._statuses[status].get(), timeout)

    async def next_rejoin(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next automatic rejoin: ``{"rejoined": room, "since", "epoch",
        "ack"}`` or ``{"rejoin_failed": room, "error"}``."""
        return await asyncio.wait_for(self._rejoins.get(), timeout)

    async def delivered(self, count: int,
                        timeout: float = TIMEOUT) -> list[dict[str, Any]]:
        """The next ``count`` entries the app showed, within one timeout."""
        async def take() -> list[dict[str, Any]]:
            return [await self._delivered.get() for _ in range(count)]
        return await asyncio.wait_for(take(), timeout)

    def delivered_now(self) -> list[dict[str, Any]]:
        """Entries shown and not taken yet, without waiting."""
        taken = []
        while not self._delivered.empty():
            taken.append(self._delivered.get_nowait())
        return taken

    async def _read(self) -> None:
        assert self._proc.stdout is not None
        async for raw in self._proc.stdout:
            message = json.loads(raw)
            if "id" in message:
                future = self._pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
            elif "delivered" in message:
                self._delivered.put_nowait(message["delivered"])
            elif "event" in message:
                self._events[message["event"]].put_nowait(message["args"])
            elif "status" in message:
                self._statuses[message["status"]].put_nowait(message)
            elif "rejoined" in message or "rejoin_failed" in message:
                self._rejoins.put_nowait(message)

    async def aclose(self) -> None:
        if self._proc.returncode is None:
            assert self._proc.stdin is not None
            with contextlib.suppress(ConnectionError):
                self._proc.stdin.write(b'{"op": "exit"}\n')
                await self._proc.stdin.drain()
            try:
                await asyncio.wait_for(self._proc.wait(), 10)
            except asyncio.TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def java_puppet(stderr_path: Path) -> AsyncIterator[JavaPuppet]:
    """A running puppet (its stderr, the Java client's own log, goes to
    ``stderr_path``), stopped on exit."""
    java, jar = java_puppet_jar()
    with open(stderr_path, "wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            java, *JVM_OPTIONS, "-jar", str(jar), cwd=str(JAVA_DIR),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=stderr, limit=16 * 1024 * 1024)
    puppet = JavaPuppet(proc)
    try:
        yield puppet
    finally:
        await puppet.aclose()
