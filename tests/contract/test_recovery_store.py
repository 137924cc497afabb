"""The RecoveryStore contract, run against every implementation: a record
is kept for its time, replaced by a newer one, and taken at most once."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chatio.recovery import MemoryRecoveryStore, RecoveryStore
from chatio.recovery.redis import RedisRecoveryStore
from chatio.recovery.snapshot import load_snapshot, save_snapshot
from chatio.redis_client import new_client


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RecoveryStore]:
    if request.param == "memory":
        yield MemoryRecoveryStore()
        return
    # One redis-server, then a Redis Cluster, as a cluster's nodes use it.
    server = request.getfixturevalue(
        "redis_server" if request.param == "redis" else "redis_cluster")
    client = new_client(server.url)
    try:
        yield RedisRecoveryStore(client, request.getfixturevalue("redis_prefix"))
    finally:
        await client.aclose()


async def test_a_record_is_taken_once(store: RecoveryStore) -> None:
    await store.put("k", "record", 60)
    assert await store.take("k") == "record"
    assert await store.take("k") is None


async def test_unknown_keys_have_nothing(store: RecoveryStore) -> None:
    assert await store.take("nobody") is None


async def test_a_newer_record_replaces_the_older(store: RecoveryStore) -> None:
    await store.put("k", "first", 60)
    await store.put("k", "second", 60)
    assert await store.take("k") == "second"


async def test_records_expire(store: RecoveryStore) -> None:
    await store.put("k", "record", 0.2)
    await store.put("other", "kept", 60)
    await asyncio.sleep(0.4)  # the expiry itself is what is tested
    assert await store.take("k") is None
    assert await store.take("other") == "kept"


async def test_concurrent_takers_get_it_once(store: RecoveryStore) -> None:
    await store.put("k", "record", 60)
    taken = await asyncio.gather(*(store.take("k") for _ in range(10)))
    assert taken.count("record") == 1
    assert taken.count(None) == 9


async def test_the_memory_store_survives_a_restart_through_its_snapshot(
        tmp_path) -> None:
    store = MemoryRecoveryStore()
    await store.put("k", "record", 60)
    await store.put("gone", "expired", 0.01)
    await asyncio.sleep(0.05)
    assert save_snapshot(store, tmp_path) == 1
    assert (tmp_path / "recovery.json").stat().st_mode & 0o077 == 0
    restarted = MemoryRecoveryStore()
    assert load_snapshot(restarted, tmp_path) == 1
    assert not (tmp_path / "recovery.json").exists(), "used once"
    assert await restarted.take("k") == "record"
    assert await restarted.take("gone") is None


def test_an_unreadable_snapshot_is_ignored(tmp_path) -> None:
    (tmp_path / "recovery.json").write_text("{not json")
    assert load_snapshot(MemoryRecoveryStore(), tmp_path) == 0
    assert not (tmp_path / "recovery.json").exists()
