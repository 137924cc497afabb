"""The HistoryStore contract, run against every implementation."""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from chatio.errors import Unavailable
from chatio.store import Change, Draft, HistoryStore
from chatio.store.memory import MemoryHistoryStore
from chatio.store.redis import RedisHistoryStore
from chatio.store.sqlite import SqliteHistoryStore
from support import RedisServer
from support.redis_server import require_redis_server
from support.redis_cluster import RedisClusterServer
from support.redis_contents import admin_client

RETENTION = 5
KINDS = ["memory", "sqlite", "redis", "redis-cluster"]


def _build(kind: str, path: Path, window: float = 3600.0, *,
           redis_url: str = "", prefix: str = "") -> HistoryStore:
    if kind == "memory":
        return MemoryHistoryStore(RETENTION, idempotency_window=window)
    if kind in ("redis", "redis-cluster"):
        return RedisHistoryStore(redis_url, prefix, RETENTION,
                                 idempotency_window=window)
    return SqliteHistoryStore(path / "h.sqlite3", RETENTION,
                              idempotency_window=window)


def _build_for(request: pytest.FixtureRequest, kind: str, path: Path,
               window: float = 3600.0) -> HistoryStore:
    """``_build``, starting the session's redis-server only when needed."""
    if kind not in ("redis", "redis-cluster"):
        return _build(kind, path, window)
    server = request.getfixturevalue(
        "redis_cluster" if kind == "redis-cluster" else "redis_server")
    return _build(kind, path, window, redis_url=server.url,
                  prefix=request.getfixturevalue("redis_prefix"))


@pytest.fixture(params=KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    store = _build_for(request, request.param, tmp_path)
    await store.open()
    yield store
    await store.close()


def draft(n: int, room: str = "r", user: str = "u", client_id: str | None = None) -> Draft:
    return Draft(id=f"m{n}", room=room, user_id=user, user_name=user.title(),
                 text=f"text {n}", ts=1000 + n, client_id=client_id)


_ids = itertools.count()


def change(target: int, user: str = "u", text: str | None = None, *,
           client_id: str | None = None, by_backend: bool = False,
           room: str = "r") -> Change:
    """An edit (with ``text``) or delete of the message at ``target``."""
    return Change(id=f"c{target}-{next(_ids)}", room=room, user_id=user,
                  user_name=user.title(), target=target, ts=9000, text=text,
                  client_id=client_id, by_backend=by_backend)


async def fill(store: HistoryStore, count: int, room: str = "r") -> None:
    for n in range(1, count + 1):
        await store.append(draft(n, room))


async def test_seq_starts_at_one_and_grows_by_one_per_room(store: HistoryStore) -> None:
    seqs = [(await store.append(draft(n, room))).message["seq"]
            for n, room in enumerate(["a", "a", "b", "a", "b"])]
    assert seqs == [1, 2, 1, 3, 2]
    assert await store.last_seq("a") == 3
    assert await store.last_seq("unknown") == 0


async def test_concurrent_appends_get_distinct_gapless_seqs(store: HistoryStore) -> None:
    results = await asyncio.gather(*(store.append(draft(n)) for n in range(40)))
    assert sorted(r.message["seq"] for r in results) == list(range(1, 41))


async def test_stored_message_has_wire_shape(store: HistoryStore) -> None:
    appended = await store.append(draft(1, client_id="c"))
    assert appended.message == {"id": "m1", "seq": 1, "room": "r",
                                "user": {"id": "u", "name": "U"},
                                "text": "text 1", "ts": 1001, "client_id": "c"}
    assert "client_id" not in (await store.append(draft(2))).message


async def test_same_client_id_returns_the_original_as_duplicate(store: HistoryStore) -> None:
    first = await store.append(draft(1, client_id="c1"))
    again = await store.append(draft(2, client_id="c1"))
    assert not first.duplicate and again.duplicate
    assert again.message == first.message
    assert await store.last_seq("r") == 1
    assert await store.find_sent("r", "u", "c1") == first.message


async def test_client_id_is_scoped_by_room_and_user(store: HistoryStore) -> None:
    await store.append(draft(1, client_id="c"))
    other_user = await store.append(draft(2, user="v", client_id="c"))
    other_room = await store.append(draft(3, room="s", client_id="c"))
    assert not other_user.duplicate and not other_room.duplicate
    assert await store.find_sent("r", "v", "nope") is None


async def test_racing_retries_store_exactly_one_message(store: HistoryStore) -> None:
    results = await asyncio.gather(
        *(store.append(draft(n, client_id="same")) for n in range(20)))
    assert sum(not r.duplicate for r in results) == 1
    assert {r.message["id"] for r in results} == {results[0].message["id"]}
    assert await store.last_seq("r") == 1


async def test_retention_keeps_newest_but_idempotency_outlives_it(store: HistoryStore) -> None:
    first = await store.append(draft(0, client_id="early"))
    await fill(store, RETENTION + 3)
    page = await store.latest("r", 100)
    assert [m["seq"] for m in page.messages] == list(range(5, 10))
    retry = await store.append(draft(99, client_id="early"))
    assert retry.duplicate and retry.message == first.message


async def test_latest_is_oldest_first_with_more(store: HistoryStore) -> None:
    await fill(store, 4)
    page = await store.latest("r", 2)
    assert [m["seq"] for m in page.messages] == [3, 4]
    assert page.more
    page = await store.latest("r", 4)
    assert not page.more
    empty = await store.latest("r", 0)
    assert empty.messages == [] and empty.more


async def test_after_pages_forward(store: HistoryStore) -> None:
    await fill(store, 5)
    page = await store.after("r", 1, 2)
    assert [m["seq"] for m in page.messages] == [2, 3] and page.more
    page = await store.after("r", 3, 10)
    assert [m["seq"] for m in page.messages] == [4, 5] and not page.more
    assert not page.gap
    assert (await store.after("r", 5, 10)).messages == []


async def test_after_reports_gap_when_retention_dropped_messages(store: HistoryStore) -> None:
    await fill(store, RETENTION + 4)  # keeps 5..9
    page = await store.after("r", 2, 3)
    assert [m["seq"] for m in page.messages] == [5, 6, 7]
    assert page.gap and page.more
    assert not (await store.after("r", 4, 3)).gap


async def test_before_pages_backward_nearest_first(store: HistoryStore) -> None:
    await fill(store, 5)
    page = await store.before("r", 5, 2)
    assert [m["seq"] for m in page.messages] == [3, 4] and page.more
    page = await store.before("r", 3, 10)
    assert [m["seq"] for m in page.messages] == [1, 2] and not page.more


@pytest.mark.parametrize("kind", KINDS)
async def test_idempotency_window_expires(request: pytest.FixtureRequest,
                                          tmp_path: Path, kind: str) -> None:
    store = _build_for(request, kind, tmp_path, window=0.0)
    await store.open()
    try:
        await store.append(draft(1, client_id="c"))
        again = await store.append(draft(2, client_id="c"))
        assert not again.duplicate
    finally:
        await store.close()


async def test_sqlite_history_survives_reopening(tmp_path: Path) -> None:
    store = _build("sqlite", tmp_path)
    await store.open()
    first = await store.append(draft(1, client_id="c"))
    await store.close()
    store = _build("sqlite", tmp_path)
    await store.open()
    try:
        assert (await store.latest("r", 10)).messages == [first.message]
        assert (await store.append(draft(2, client_id="c"))).duplicate
        assert (await store.append(draft(3))).message["seq"] == 2
    finally:
        await store.close()


async def test_sqlite_closed_store_is_unavailable(tmp_path: Path) -> None:
    store = _build("sqlite", tmp_path)
    await store.open()
    await store.close()
    with pytest.raises(Unavailable):
        await store.append(draft(1))
    with pytest.raises(Unavailable):
        await store.ping()


# -- Redis: what a cluster of nodes sharing one Redis relies on ---------------

@pytest.fixture
async def redis_pair(shared_redis: RedisServer | RedisClusterServer,
                     redis_prefix: str) -> AsyncIterator[list[RedisHistoryStore]]:
    """Two stores on separate connections, like two nodes of a cluster."""
    stores = [RedisHistoryStore(shared_redis.url, redis_prefix, 1000)
              for _ in range(2)]
    for store in stores:
        await store.open()
    yield stores
    for store in stores:
        await store.close()


async def test_redis_client_id_race_across_nodes_stores_exactly_one(
        redis_pair: list[RedisHistoryStore]) -> None:
    one, two = redis_pair
    for n in range(50):
        results = await asyncio.gather(
            one.append(draft(n, client_id=f"c{n}")),
            two.append(draft(1000 + n, client_id=f"c{n}")),
            one.append(draft(2000 + n, client_id=f"c{n}")),
            two.append(draft(3000 + n, client_id=f"c{n}")))
        assert sum(not r.duplicate for r in results) == 1, n
        assert len({r.message["id"] for r in results}) == 1, n
        assert {r.message["seq"] for r in results} == {n + 1}, n
    assert await one.last_seq("r") == await two.last_seq("r") == 50
    page = await two.latest("r", 100)
    assert [m["seq"] for m in page.messages] == list(range(1, 51))


async def test_redis_seq_is_gapless_across_nodes(
        redis_pair: list[RedisHistoryStore]) -> None:
    one, two = redis_pair
    results = await asyncio.gather(
        *(node.append(draft(n)) for n in range(30) for node in (one, two)))
    assert sorted(r.message["seq"] for r in results) == list(range(1, 61))
    page = await one.after("r", 0, 100)
    assert [m["seq"] for m in page.messages] == list(range(1, 61))
    assert not page.more and not page.gap
    by_seq = {r.message["seq"]: r.message for r in results}
    assert page.messages == [by_seq[s] for s in range(1, 61)]


async def test_redis_retention_is_exact_in_the_log_hash(
        shared_redis: RedisServer | RedisClusterServer, redis_prefix: str) -> None:
    store = RedisHistoryStore(shared_redis.url, redis_prefix, RETENTION)
    await store.open()
    client = admin_client(shared_redis.url)
    try:
        for n in range(1, 251):
            await store.append(draft(n))
        log_key = f"{redis_prefix}:room:{{r}}:log"
        assert await client.hlen(log_key) == RETENTION
        newest = list(range(246, 251))
        page = await store.latest("r", 100)
        assert [m["seq"] for m in page.messages] == newest and not page.more
        page = await store.latest("r", 2)
        assert [m["seq"] for m in page.messages] == [249, 250] and page.more
        page = await store.after("r", 0, 3)
        assert [m["seq"] for m in page.messages] == [246, 247, 248]
        assert page.gap and page.more
        page = await store.after("r", 245, 10)
        assert [m["seq"] for m in page.messages] == newest
        assert not page.gap and not page.more
        page = await store.before("r", 250, 100)
        assert [m["seq"] for m in page.messages] == newest[:-1]
        assert not page.more
        assert (await store.before("r", 246, 10)).messages == []
        assert (await store.before("r", 100, 10)).messages == []
        assert (await store.after("r", 250, 10)).messages == []
    finally:
        await client.aclose()
        await store.close()


async def test_redis_reads_entries_older_nodes_kept_in_a_stream(
        shared_redis: RedisServer | RedisClusterServer, redis_prefix: str) -> None:
    """Entries stored in the stream by earlier nodes stay readable and
    changeable; appends trim the stream as retention passes them."""
    client = admin_client(shared_redis.url)
    stream = f"{redis_prefix}:room:{{r}}:stream"
    old = [draft(n).stored_as(n) for n in (1, 2)]
    for message in old:
        await client.xadd(stream, {"m": json.dumps(message)},
                          id=f"{message['seq']}-0")
    await client.set(f"{redis_prefix}:room:{{r}}:seq", 2)
    store = RedisHistoryStore(shared_redis.url, redis_prefix, 3)
    await store.open()
    try:
        assert (await store.latest("r", 10)).messages == old
        await store.amend(change(2))
        assert await client.xlen(stream) == 1
        for n in range(4, 7):
            await store.append(draft(n))
        assert await client.xlen(stream) == 0
        page = await store.latest("r", 10)
        assert [m["seq"] for m in page.messages] == [4, 5, 6]
    finally:
        await client.aclose()
        await store.close()


async def test_redis_idempotency_record_has_the_window_as_ttl(
        shared_redis: RedisServer | RedisClusterServer, redis_prefix: str) -> None:
    day = RedisHistoryStore(shared_redis.url, redis_prefix, RETENTION)
    short = RedisHistoryStore(shared_redis.url, redis_prefix, RETENTION,
                              idempotency_window=0.2)
    client = admin_client(shared_redis.url)
    await day.open()
    await short.open()
    try:
        await day.append(draft(1, client_id="day"))
        ttl = await client.pttl(f"{redis_prefix}:room:{{r}}:sent:1:u:day")
        assert 23 * 3600_000 < ttl <= 24 * 3600_000
        first = await short.append(draft(2, client_id="short"))
        assert (await short.append(draft(3, client_id="short"))).duplicate
        deadline = time.monotonic() + 5.0
        while await short.find_sent("r", "u", "short") is not None:
            assert time.monotonic() < deadline, "the record never expired"
            await asyncio.sleep(0.02)  # polling for Redis's own expiry
        again = await short.append(draft(4, client_id="short"))
        assert not again.duplicate
        assert again.message["seq"] == first.message["seq"] + 1
    finally:
        await client.aclose()
        await day.close()
        await short.close()


async def test_redis_keys_are_prefixed_and_unambiguous(
        shared_redis: RedisServer | RedisClusterServer, redis_prefix: str) -> None:
    store = RedisHistoryStore(shared_redis.url, redis_prefix, RETENTION)
    client = admin_client(shared_redis.url, decode_responses=True)
    await store.open()
    try:
        one = await store.append(draft(1, room="a:b", user="x:y", client_id="z"))
        two = await store.append(draft(2, room="a:b", user="x", client_id="y:z"))
        assert not one.duplicate and not two.duplicate
        assert await store.find_sent("a:b", "x:y", "z") == one.message
        assert await store.find_sent("a:b", "x", "y:z") == two.message
        keys = {key async for key in client.scan_iter(f"{redis_prefix}:*")}
        assert keys == {f"{redis_prefix}:room:{{a:b}}:seq",
                        f"{redis_prefix}:room:{{a:b}}:log",
                        f"{redis_prefix}:room:{{a:b}}:sent:3:x:y:z",
                        f"{redis_prefix}:room:{{a:b}}:sent:1:x:y:z"}
    finally:
        await client.aclose()
        await store.close()


async def test_redis_store_accepts_a_client_factory_decoding_responses(
        shared_redis: RedisServer | RedisClusterServer, redis_prefix: str) -> None:
    store = RedisHistoryStore(
        lambda: admin_client(shared_redis.url,
                                        decode_responses=True),
        redis_prefix, RETENTION)
    await store.open()
    try:
        first = await store.append(draft(1, client_id="c"))
        assert (await store.append(draft(2, client_id="c"))).message == first.message
        assert (await store.latest("r", 5)).messages == [first.message]
        assert await store.last_seq("r") == 1
    finally:
        await store.close()


async def test_redis_down_is_unavailable_and_stores_nothing(
        tmp_path: Path, redis_prefix: str) -> None:
    server = RedisServer(tmp_path / "redis", require_redis_server(),
                         extra_args=["--appendonly", "yes",
                                     "--appendfsync", "always"]).start()
    store = RedisHistoryStore(server.url, redis_prefix, RETENTION)
    await store.open()
    try:
        acked = [(await store.append(draft(n, client_id=f"c{n}"))).message
                 for n in range(1, 4)]
        server.kill()
        with pytest.raises(Unavailable):
            await store.append(draft(4, client_id="lost"))
        with pytest.raises(Unavailable):
            await store.append(draft(5))
        for read in (store.ping(), store.latest("r", 10),
                     store.after("r", 0, 10), store.before("r", 9, 10),
                     store.last_seq("r"), store.find_sent("r", "u", "c1")):
            with pytest.raises(Unavailable):
                await read
        server.restart()
        await store.ping()
        assert await store.last_seq("r") == 3
        assert (await store.latest("r", 10)).messages == acked
        assert await store.find_sent("r", "u", "lost") is None
        retry = await store.append(draft(4, client_id="lost"))
        assert not retry.duplicate and retry.message["seq"] == 4
        assert (await store.append(draft(1, client_id="c1"))).duplicate
    finally:
        await store.close()
        server.kill()
