"""The HistoryStore contract for edits, deletes, reactions and read
positions, run against every implementation."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from chatio.constants import MAX_REACTIONS_PER_MESSAGE
from chatio.errors import Forbidden, NotFound, TooManyReactions
from chatio.store import HistoryStore
from chatio.store.redis import RedisHistoryStore
from support.redis_contents import admin_client, held_under
from support.redis_cluster import RedisClusterServer
from support import RedisServer

from test_history_store import KINDS, RETENTION, _build_for, change, draft, fill

SECRET = "the launch code is 7781"


@pytest.fixture(params=KINDS)
async def store(request: pytest.FixtureRequest,
                tmp_path: Path) -> AsyncIterator[HistoryStore]:
    store = _build_for(request, request.param, tmp_path)
    await store.open()
    yield store
    await store.close()


async def test_an_edit_is_an_entry_of_its_own_and_changes_the_message(
        store: HistoryStore) -> None:
    await fill(store, 2)
    edit = await store.amend(change(1, text="better"))
    assert not edit.duplicate
    assert edit.message == {"id": edit.message["id"], "seq": 3, "room": "r",
                            "user": {"id": "u", "name": "U"}, "kind": "edit",
                            "target": 1, "ts": 9000, "text": "better"}
    page = await store.latest("r", 10)
    assert page.messages[0] == {**draft(1).stored_as(1), "text": "better",
                                "edited_at": 9000}
    assert page.messages[2] == edit.message
    assert (await store.after("r", 2, 10)).messages == [edit.message]
    assert await store.last_seq("r") == 3


async def test_a_delete_removes_the_text_of_the_message_and_its_edits(
        store: HistoryStore) -> None:
    sent = await store.append(draft(1, client_id="m"))
    edit = await store.amend(change(1, text=SECRET, client_id="e"))
    gone = await store.amend(change(1, client_id="d"))
    assert gone.message["kind"] == "delete" and "text" not in gone.message
    assert gone.message["seq"] == 3 and gone.message["target"] == 1
    page = await store.latest("r", 10)
    message, scrubbed_edit, delete = page.messages
    assert message == {key: value for key, value in sent.message.items()
                       if key != "text"} | {"deleted": True}
    assert scrubbed_edit == {key: value for key, value in edit.message.items()
                             if key != "text"}
    assert delete == gone.message
    # The idempotency records hold no text either.
    assert await store.find_sent("r", "u", "m") == message
    assert await store.find_sent("r", "u", "e") == scrubbed_edit
    assert SECRET not in repr(page.messages)


async def test_only_the_author_may_change_a_message(store: HistoryStore) -> None:
    await store.append(draft(1, user="alice"))
    for attempt in (change(1, "mallory", "mine now"), change(1, "mallory")):
        with pytest.raises(Forbidden):
            await store.amend(attempt)
    assert await store.last_seq("r") == 1
    assert (await store.latest("r", 10)).messages[0]["text"] == "text 1"
    edit = await store.amend(change(1, "backend", "moderated",
                                    by_backend=True))
    assert edit.message["seq"] == 2
    assert (await store.latest("r", 10)).messages[0]["text"] == "moderated"


async def test_changes_need_a_kept_live_message(store: HistoryStore) -> None:
    await fill(store, RETENTION + 1)  # keeps 2..6
    await store.amend(change(3))
    await store.amend(change(4, text="edited"))  # seq 8
    for target in (1, 3, 7, 8, 99, 10**15):
        with pytest.raises(NotFound):
            await store.amend(change(target, text="again"))
        with pytest.raises(NotFound):
            await store.react("r", target, "u", "👍", True)
    with pytest.raises(NotFound):
        await store.amend(change(1, room="elsewhere"))
    assert await store.last_seq("r") == 8


async def test_changes_are_idempotent_by_client_id(store: HistoryStore) -> None:
    await fill(store, 1)
    first = await store.amend(change(1, text="once", client_id="k"))
    again = await store.amend(change(1, text="twice", client_id="k"))
    assert again.duplicate and again.message == first.message
    results = await asyncio.gather(
        *(store.amend(change(1, text=f"race {n}", client_id="race"))
          for n in range(10)))
    assert sum(not r.duplicate for r in results) == 1
    assert await store.last_seq("r") == 3


async def test_resending_an_edited_message_answers_its_current_state(
        store: HistoryStore) -> None:
    await store.append(draft(1, client_id="m"))
    await store.amend(change(1, text="new"))
    again = await store.append(draft(1, client_id="m"))
    assert again.duplicate
    assert again.message["text"] == "new" and again.message["edited_at"] == 9000


async def test_reactions_are_counts_plus_whether_the_viewer_reacted(
        store: HistoryStore) -> None:
    await fill(store, 2)
    assert await store.react("r", 1, "a", "👍", True) == (1, True)
    assert await store.react("r", 1, "a", "👍", True) == (1, False)
    assert await store.react("r", 1, "b", "👍", True) == (2, True)
    assert await store.react("r", 1, "b", "🎉", True) == (1, True)
    assert await store.react("r", 1, "b", "🎉", False) == (0, True)
    assert await store.react("r", 1, "b", "🎉", False) == (0, False)
    assert await store.react("r", 1, "c", "❤️", True) == (1, True)
    page = await store.latest("r", 10, viewer="a")
    assert page.messages[0]["reactions"] == [
        {"emoji": "❤️", "count": 1, "me": False},
        {"emoji": "👍", "count": 2, "me": True}]
    assert "reactions" not in page.messages[1]
    seen_by_c = (await store.before("r", 2, 10, viewer="c")).messages[0]
    assert seen_by_c["reactions"] == [
        {"emoji": "❤️", "count": 1, "me": True},
        {"emoji": "👍", "count": 2, "me": False}]
    anonymous = (await store.after("r", 0, 1)).messages[0]
    assert [r["me"] for r in anonymous["reactions"]] == [False, False]


async def test_a_deleted_message_loses_its_reactions(store: HistoryStore) -> None:
    await fill(store, 1)
    await store.react("r", 1, "a", "👍", True)
    await store.amend(change(1))
    assert "reactions" not in (await store.latest("r", 10, "a")).messages[0]
    with pytest.raises(NotFound):
        await store.react("r", 1, "a", "👍", False)


async def test_a_message_takes_a_bounded_number_of_emoji(
        store: HistoryStore) -> None:
    await fill(store, 1)
    emoji = [chr(0x1F600 + n) for n in range(MAX_REACTIONS_PER_MESSAGE + 1)]
    for one in emoji[:-1]:
        await store.react("r", 1, "a", one, True)
    with pytest.raises(TooManyReactions):
        await store.react("r", 1, "b", emoji[-1], True)
    # Existing emoji still take more reactors, and clearing is always fine.
    assert await store.react("r", 1, "b", emoji[0], True) == (2, True)
    assert await store.react("r", 1, "b", emoji[-1], False) == (0, False)


async def test_concurrent_reactions_are_all_counted(store: HistoryStore) -> None:
    await fill(store, 1)
    results = await asyncio.gather(
        *(store.react("r", 1, f"user{n}", "👍", True) for n in range(30)))
    assert sorted(r.count for r in results) == list(range(1, 31))
    page = await store.latest("r", 1, viewer="user7")
    assert page.messages[0]["reactions"] == [
        {"emoji": "👍", "count": 30, "me": True}]


async def test_reactions_leave_with_retention(store: HistoryStore) -> None:
    await fill(store, 1)
    await store.react("r", 1, "a", "👍", True)
    await fill(store, RETENTION + 1)
    with pytest.raises(NotFound):
        await store.react("r", 1, "a", "👍", True)
    assert all("reactions" not in m
               for m in (await store.latest("r", 10, "a")).messages)


async def test_read_positions_only_move_forward(store: HistoryStore) -> None:
    await fill(store, 4)
    assert await store.mark_read("r", "a", "Ada", 2) == (2, True)
    assert await store.mark_read("r", "a", "Ada", 1) == (2, False)
    assert await store.mark_read("r", "a", "Ada", 2) == (2, False)
    assert await store.mark_read("r", "a", "Ada", 99) == (4, True)
    assert await store.mark_read("r", "b", "Bob", 0) == (0, False)
    assert await store.mark_read("new-room", "a", "Ada", 5) == (0, False)
    assert (await store.read_state("r", "a")).seq == 4
    assert (await store.read_state("r", "nobody")).seq == 0


async def test_unread_counts_live_messages_of_others_after_the_position(
        store: HistoryStore) -> None:
    for n, user in enumerate(["b", "a", "b", "b"], start=1):
        await store.append(draft(n, user=user))
    await store.amend(change(3, "b"))  # seq 5
    assert await store.read_state("r", "a") == (0, 2)
    assert await store.read_state("r", "b") == (0, 1)
    await store.mark_read("r", "a", "Ada", 2)
    assert await store.read_state("r", "a") == (2, 1)
    await store.amend(change(4, "b", "edited"))  # seq 6: no message
    assert await store.read_state("r", "a") == (2, 1)
    await store.mark_read("r", "a", "Ada", 6)
    assert await store.read_state("r", "a") == (6, 0)


async def test_a_change_to_the_oldest_kept_message_leaves_nothing_behind(
        store: HistoryStore) -> None:
    await fill(store, RETENTION)
    await store.react("r", 1, "a", "👍", True)
    edit = await store.amend(change(1, text="last words"))
    page = await store.latest("r", 100, viewer="a")
    assert [m["seq"] for m in page.messages] == [2, 3, 4, 5, 6]
    assert page.messages[-1] == edit.message
    await store.amend(change(2))
    page = await store.after("r", 0, 100)
    assert [m["seq"] for m in page.messages] == [3, 4, 5, 6, 7]
    assert all("deleted" not in m for m in page.messages)


async def test_readers_are_listed_furthest_first(store: HistoryStore) -> None:
    await fill(store, 5)
    for user, seq in (("a", 2), ("b", 5), ("c", 4), ("d", 1)):
        await store.mark_read("r", user, user.upper(), seq)
    readers = await store.readers("r", 2, 10)
    assert [(r.user_id, r.name, r.seq) for r in readers] == [
        ("b", "B", 5), ("c", "C", 4), ("a", "A", 2)]
    assert [r.user_id for r in await store.readers("r", 4, 1)] == ["b"]
    assert await store.readers("r", 6, 10) == []
    assert await store.readers("other", 1, 10) == []


async def test_sqlite_delete_leaves_no_text_in_the_files(tmp_path: Path,
                                                         request) -> None:
    store = _build_for(request, "sqlite", tmp_path)
    await store.open()
    try:
        await store.append(draft(1, client_id="m"))
        await store.amend(change(1, text=SECRET, client_id="e"))
        await fill(store, 3)
        on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("h.sqlite3*"))
        assert SECRET.encode() in on_disk, "the edit was written"
        await store.amend(change(1))
    finally:
        await store.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("h.sqlite3*"))
    assert SECRET.encode() not in on_disk


async def test_redis_delete_leaves_no_text_in_redis(
        shared_redis: RedisServer | RedisClusterServer, redis_prefix: str) -> None:
    store = RedisHistoryStore(shared_redis.url, redis_prefix, RETENTION)
    client = admin_client(shared_redis.url)
    await store.open()
    try:
        await store.append(draft(1, client_id="m"))
        await store.amend(change(1, text=SECRET, client_id="e"))

        assert SECRET.encode() in await held_under(client, redis_prefix)
        await store.amend(change(1))
        assert SECRET.encode() not in await held_under(client, redis_prefix)
    finally:
        await client.aclose()
        await store.close()
