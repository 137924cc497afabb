"""A node whose Redis is unreachable from the start: clients get a code and
a neutral message, the details go to the log, and the log does not claim a
subscription was lost that never existed."""
from __future__ import annotations

import asyncio
import json
import logging

from chatio.constants import UNAVAILABLE
from support import assert_error, free_port
from support.http import API_KEY, bearer, request

NEUTRAL = "storage is unavailable, try again"
TIMEOUT = 10.0


class Recorder(logging.Handler):
    """Keeps records and wakes a waiter on each one."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.arrived.set()

    async def first(self, predicate) -> logging.LogRecord:
        async def wait() -> logging.LogRecord:
            while True:
                for record in self.records:
                    if predicate(record):
                        return record
                self.arrived.clear()
                await self.arrived.wait()
        return await asyncio.wait_for(wait(), TIMEOUT)


async def test_clients_never_see_redis_hosts_or_exception_text(
        make_settings, start_server, connect):
    port = free_port("127.0.0.1")
    recorder = Recorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    try:
        server = await start_server(redis_url=f"redis://127.0.0.1:{port}",
                                    api_key=API_KEY)
        alice = await connect(server, "alice")
        ack = await alice.call("join", {"room": "lobby"})
        error = assert_error(ack, UNAVAILABLE)
        assert error["message"] == NEUTRAL
        assert str(port) not in json.dumps(ack)
        status, body = await request(
            "GET", server.url + "/api/rooms/lobby/history", headers=bearer())
        assert status == 503
        assert body["error"]["message"] == NEUTRAL
        assert str(port) not in json.dumps(body)
        logged = await recorder.first(
            lambda r: r.getMessage() == "store unavailable")
        assert str(port) in json.dumps(logged.fields)
        pubsub = await recorder.first(
            lambda r: r.name == "chatio.transport.sharded_pubsub")
    finally:
        root.removeHandler(recorder)
    assert pubsub.getMessage() == "cannot subscribe to Redis pub/sub; retrying"
    assert not any("lost" in r.getMessage() for r in recorder.records
                   if r.name == "chatio.transport.sharded_pubsub")
