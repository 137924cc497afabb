"""The HistoryStore contract for room epochs, run against every
implementation: an epoch is created with a room's history, kept as long as
that history is, and replaced when the history starts over."""
from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from chatio.store import HistoryStore
from chatio.store.redis import RedisHistoryStore
from support import RedisServer
from support.redis_server import require_redis_server

from test_history_store import (KINDS, RETENTION, _build, _build_for, change,
                                draft, fill)

EPOCH = re.compile(r"^[0-9a-f]{16}\Z")


@pytest.fixture(params=KINDS)
async def store(request: pytest.FixtureRequest,
                tmp_path: Path) -> AsyncIterator[HistoryStore]:
    store = _build_for(request, request.param, tmp_path)
    await store.open()
    yield store
    await store.close()


async def test_an_epoch_is_16_hex_characters_stable_and_per_room(
        store: HistoryStore) -> None:
    epoch = await store.epoch("r")
    assert EPOCH.match(epoch)
    assert await store.epoch("r") == epoch
    assert (await store.latest("r", 10)).epoch == epoch
    other = await store.epoch("s")
    assert EPOCH.match(other) and other != epoch


async def test_the_first_read_of_an_empty_room_fixes_its_epoch(
        store: HistoryStore) -> None:
    page = await store.after("r", 0, 10)
    assert page.messages == [] and page.last_seq == 0
    assert EPOCH.match(page.epoch)
    first = await store.append(draft(1))
    assert first.message["seq"] == 1
    assert first.message["epoch"] == page.epoch
    assert (await store.latest("r", 10)).epoch == page.epoch


async def test_every_entry_and_page_carries_the_epoch_and_last_seq(
        store: HistoryStore) -> None:
    sent = await store.append(draft(1, client_id="c"))
    epoch = sent.message["epoch"]
    await fill(store, 3)  # seqs 2..4
    edit = await store.amend(change(2, text="edited", client_id="e"))
    assert edit.message["epoch"] == epoch
    for page in (await store.latest("r", 2), await store.after("r", 1, 2),
                 await store.before("r", 5, 2), await store.latest("r", 0)):
        assert page.epoch == epoch and page.last_seq == 5
        assert all(m["epoch"] == epoch for m in page.messages)
    again = await store.append(draft(9, client_id="c"))
    assert again.duplicate and again.message == sent.message
    assert (await store.amend(change(2, text="x", client_id="e"))).message \
        == edit.message
    assert await store.find_sent("r", "u", "c") == sent.message


async def test_a_page_pairs_its_position_with_its_messages(
        store: HistoryStore) -> None:
    await fill(store, 3)
    await asyncio.gather(*(store.append(draft(n)) for n in range(4, 24)))
    page = await store.latest("r", 100)
    assert page.last_seq == page.messages[-1]["seq"] == 23
    page = await store.after("r", 30, 10)
    assert page.messages == [] and page.last_seq == 23


async def test_a_memory_store_that_lost_its_history_has_a_new_epoch(
        tmp_path: Path) -> None:
    first = _build("memory", tmp_path)
    epoch = (await first.append(draft(1))).message["epoch"]
    second = _build("memory", tmp_path)
    assert await second.epoch("r") != epoch
    assert (await second.append(draft(2))).message["seq"] == 1


# -- SQLite: the epoch lives in the database ---------------------------------

async def test_sqlite_epoch_survives_reopening(tmp_path: Path) -> None:
    store = _build("sqlite", tmp_path)
    await store.open()
    epoch = (await store.append(draft(1))).message["epoch"]
    empty_room = await store.epoch("quiet")
    await store.close()
    store = _build("sqlite", tmp_path)
    await store.open()
    try:
        assert await store.epoch("r") == epoch
        assert await store.epoch("quiet") == empty_room
        second = await store.append(draft(2))
        assert second.message["seq"] == 2 and second.message["epoch"] == epoch
        page = await store.latest("r", 10)
        assert page.epoch == epoch and page.last_seq == 2
    finally:
        await store.close()


async def test_a_replaced_sqlite_database_starts_a_new_epoch(
        tmp_path: Path) -> None:
    store = _build("sqlite", tmp_path)
    await store.open()
    epoch = (await store.append(draft(1))).message["epoch"]
    await store.append(draft(2))
    await store.close()
    for path in tmp_path.glob("h.sqlite3*"):
        path.unlink()
    store = _build("sqlite", tmp_path)
    await store.open()
    try:
        page = await store.after("r", 2, 10)
        assert page.epoch != epoch and EPOCH.match(page.epoch)
        assert page.last_seq == 0
        fresh = await store.append(draft(3))
        assert fresh.message["seq"] == 1
        assert fresh.message["epoch"] == page.epoch
    finally:
        await store.close()


# The schema of nodes before epochs, with one room, two messages and a send.
OLD_SCHEMA = """
CREATE TABLE rooms (room TEXT PRIMARY KEY, last_seq INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE messages (room TEXT NOT NULL, seq INTEGER NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (room, seq)) WITHOUT ROWID;
CREATE TABLE sends (room TEXT NOT NULL, user_id TEXT NOT NULL,
    client_id TEXT NOT NULL, created REAL NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (room, user_id, client_id)) WITHOUT ROWID;
"""


async def test_a_sqlite_database_from_before_epochs_is_migrated(
        tmp_path: Path) -> None:
    old = [draft(n, client_id=f"c{n}").stored_as(n, "") for n in (1, 2)]
    for message in old:
        del message["epoch"]
    conn = sqlite3.connect(tmp_path / "h.sqlite3")
    conn.executescript(OLD_SCHEMA)
    conn.execute("INSERT INTO rooms VALUES ('r', 2)")
    for message in old:
        body = json.dumps(message)
        conn.execute("INSERT INTO messages VALUES ('r', ?, ?)",
                     (message["seq"], body))
        conn.execute("INSERT INTO sends VALUES ('r', 'u', ?, 1e12, ?)",
                     (message["client_id"], body))
    conn.commit()
    conn.close()

    store = _build("sqlite", tmp_path)
    await store.open()
    try:
        assert await store.find_sent("r", "u", "c1") == {
            **old[0], "epoch": await store.epoch("r")}
        page = await store.latest("r", 10)
        assert EPOCH.match(page.epoch) and page.last_seq == 2
        assert page.messages == [{**m, "epoch": page.epoch} for m in old]
        retry = await store.append(draft(5, client_id="c2"))
        assert retry.duplicate
        assert retry.message == {**old[1], "epoch": page.epoch}
        third = await store.append(draft(3))
        assert third.message["seq"] == 3
        assert third.message["epoch"] == page.epoch
    finally:
        await store.close()
    store = _build("sqlite", tmp_path)
    await store.open()
    try:
        assert await store.epoch("r") == page.epoch
    finally:
        await store.close()


# -- Redis: the epoch is a key of the room's ----------------------------------

async def _delete_room(client: aioredis.Redis, prefix: str, room: str) -> int:
    keys = [key async for key in client.scan_iter(
        f"{prefix}:room:{{{room}}}:*")]
    return await client.delete(*keys) if keys else 0


async def test_redis_epoch_is_shared_by_nodes_and_kept_by_new_clients(
        redis_server: RedisServer, redis_prefix: str) -> None:
    one = RedisHistoryStore(redis_server.url, redis_prefix, RETENTION)
    two = RedisHistoryStore(redis_server.url, redis_prefix, RETENTION)
    await one.open()
    await two.open()
    try:
        epoch = await one.epoch("r")
        assert await two.epoch("r") == epoch
        assert (await two.append(draft(1))).message["epoch"] == epoch
    finally:
        await one.close()
        await two.close()
    three = RedisHistoryStore(redis_server.url, redis_prefix, RETENTION)
    await three.open()
    try:
        assert await three.epoch("r") == epoch
    finally:
        await three.close()


async def test_redis_epoch_survives_a_restart_with_its_data(
        tmp_path: Path, redis_prefix: str) -> None:
    server = RedisServer(tmp_path / "redis", require_redis_server(),
                         extra_args=["--appendonly", "yes",
                                     "--appendfsync", "always"]).start()
    store = RedisHistoryStore(server.url, redis_prefix, RETENTION)
    await store.open()
    try:
        epoch = (await store.append(draft(1))).message["epoch"]
        await store.close()
        server.kill()
        server.start()
        store = RedisHistoryStore(server.url, redis_prefix, RETENTION)
        await store.open()
        page = await store.latest("r", 10)
        assert page.epoch == epoch and page.last_seq == 1
        second = await store.append(draft(2))
        assert second.message["seq"] == 2 and second.message["epoch"] == epoch
    finally:
        await store.close()
        server.kill()


async def test_redis_without_its_data_after_a_restart_starts_a_new_epoch(
        tmp_path: Path, redis_prefix: str) -> None:
    server = RedisServer(tmp_path / "redis", require_redis_server()).start()
    store = RedisHistoryStore(server.url, redis_prefix, RETENTION)
    await store.open()
    try:
        epoch = (await store.append(draft(1))).message["epoch"]
        await store.append(draft(2))
        await store.close()
        server.restart()  # no persistence: everything is gone
        store = RedisHistoryStore(server.url, redis_prefix, RETENTION)
        await store.open()
        page = await store.after("r", 2, 10)
        assert page.epoch != epoch and page.last_seq == 0
        fresh = await store.append(draft(3))
        assert fresh.message["seq"] == 1
        assert fresh.message["epoch"] == page.epoch
    finally:
        await store.close()
        server.kill()


async def test_deleting_a_rooms_redis_keys_starts_a_new_epoch_at_seq_1(
        redis_server: RedisServer, redis_prefix: str) -> None:
    store = RedisHistoryStore(redis_server.url, redis_prefix, RETENTION)
    client = aioredis.Redis.from_url(redis_server.url)
    await store.open()
    try:
        epoch = (await store.append(draft(1, client_id="c"))).message["epoch"]
        await fill(store, 3)
        kept = (await store.append(draft(1, room="other"))).message["epoch"]
        assert await _delete_room(client, redis_prefix, "r") > 0
        fresh = await store.append(draft(5, client_id="c"))
        assert not fresh.duplicate
        assert fresh.message["seq"] == 1 and fresh.message["epoch"] != epoch
        assert EPOCH.match(fresh.message["epoch"])
        page = await store.latest("r", 10)
        assert page.epoch == fresh.message["epoch"] and page.last_seq == 1
        assert page.messages == [fresh.message]
        assert await store.epoch("other") == kept
    finally:
        await client.aclose()
        await store.close()


async def test_a_lost_redis_seq_counter_starts_a_new_epoch(
        redis_server: RedisServer, redis_prefix: str) -> None:
    store = RedisHistoryStore(redis_server.url, redis_prefix, RETENTION)
    client = aioredis.Redis.from_url(redis_server.url)
    await store.open()
    try:
        await fill(store, 2)
        epoch = await store.epoch("r")
        await client.delete(f"{redis_prefix}:room:{{r}}:seq")
        fresh = await store.append(draft(3))
        assert fresh.message["seq"] == 1 and fresh.message["epoch"] != epoch
    finally:
        await client.aclose()
        await store.close()


async def test_racing_appends_and_a_reset_never_mix_epochs_and_seqs(
        redis_server: RedisServer, redis_prefix: str) -> None:
    """Whatever interleaving: within each epoch, seqs are exactly 1..n."""
    stores = [RedisHistoryStore(redis_server.url, redis_prefix, 1000)
              for _ in range(2)]
    client = aioredis.Redis.from_url(redis_server.url)
    for store in stores:
        await store.open()
    halfway, reset_done = asyncio.Event(), asyncio.Event()
    try:
        async def appends(store: RedisHistoryStore, base: int,
                          pause_at: int = -1) -> list[dict]:
            made = []
            for n in range(60):
                if n == pause_at:
                    halfway.set()
                    await reset_done.wait()
                made.append((await store.append(draft(base + n))).message)
            return made

        async def reset() -> None:
            # The first node waits; the second keeps appending meanwhile.
            await halfway.wait()
            await _delete_room(client, redis_prefix, "r")
            reset_done.set()

        one, two, _ = await asyncio.gather(appends(stores[0], 0, 30),
                                           appends(stores[1], 1000), reset())
        by_epoch: dict[str, list[int]] = {}
        for message in one + two:
            by_epoch.setdefault(message["epoch"], []).append(message["seq"])
        assert len(by_epoch) == 2
        for seqs in by_epoch.values():
            assert sorted(seqs) == list(range(1, len(seqs) + 1))
        page = await stores[0].latest("r", 1000)
        assert {m["epoch"] for m in page.messages} == {page.epoch}
        assert page.last_seq == len(by_epoch[page.epoch])
    finally:
        await client.aclose()
        for store in stores:
            await store.close()


async def test_a_redis_history_from_before_epochs_carries_on_under_one(
        redis_server: RedisServer, redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_server.url)
    old = [draft(n, client_id=f"c{n}").stored_as(n, "") for n in (1, 2)]
    for message in old:
        del message["epoch"]
        body = json.dumps(message)
        await client.hset(f"{redis_prefix}:room:{{r}}:log",
                          str(message["seq"]), body)
        await client.set(f"{redis_prefix}:room:{{r}}:sent:1:u:"
                         f"{message['client_id']}", body)
    await client.set(f"{redis_prefix}:room:{{r}}:seq", 2)
    store = RedisHistoryStore(redis_server.url, redis_prefix, RETENTION)
    await store.open()
    try:
        page = await store.latest("r", 10)
        assert EPOCH.match(page.epoch) and page.last_seq == 2
        assert page.messages == [{**m, "epoch": page.epoch} for m in old]
        assert await store.find_sent("r", "u", "c1") == page.messages[0]
        retry = await store.append(draft(9, client_id="c2"))
        assert retry.duplicate and retry.message == page.messages[1]
        third = await store.append(draft(3))
        assert third.message["seq"] == 3
        assert third.message["epoch"] == page.epoch
    finally:
        await client.aclose()
        await store.close()
