"""The HistoryStore contract, run against every implementation."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatio.errors import Unavailable
from chatio.store import Draft, HistoryStore
from chatio.store.memory import MemoryHistoryStore
from chatio.store.sqlite import SqliteHistoryStore

RETENTION = 5


def _build(kind: str, path: Path, window: float = 3600.0) -> HistoryStore:
    if kind == "memory":
        return MemoryHistoryStore(RETENTION, idempotency_window=window)
    return SqliteHistoryStore(path / "h.sqlite3", RETENTION,
                              idempotency_window=window)


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    store = _build(request.param, tmp_path)
    await store.open()
    yield store
    await store.close()


def draft(n: int, room: str = "r", user: str = "u", client_id: str | None = None) -> Draft:
    return Draft(id=f"m{n}", room=room, user_id=user, user_name=user.title(),
                 text=f"text {n}", ts=1000 + n, client_id=client_id)


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


async def test_idempotency_window_expires(tmp_path: Path) -> None:
    for kind in ("memory", "sqlite"):
        store = _build(kind, tmp_path / kind, window=0.0)
        await store.open()
        try:
            await store.append(draft(1, client_id="c"))
            again = await store.append(draft(2, client_id="c"))
            assert not again.duplicate, kind
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
