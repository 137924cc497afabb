"""History paging: join with and without ``since``, history before/after,
``more``, ``last_seq`` and ``gap`` after retention dropped messages."""
from __future__ import annotations

import pytest

from chatio.constants import INVALID_PAYLOAD
from support import BACKENDS, assert_error, assert_ok

pytestmark = pytest.mark.parametrize("backend", BACKENDS)


async def fill(client, room: str, count: int) -> list[dict]:
    """Store ``count`` messages (texts m1..mN) and return them."""
    futures = [await client.request("message",
                                    {"room": room, "text": f"m{i}"})
               for i in range(1, count + 1)]
    return [assert_ok(await client.ack(f))["message"] for f in futures]


def seqs(messages: list[dict]) -> list[int]:
    return [m["seq"] for m in messages]


@pytest.fixture
async def room30(server, connect):
    """A writer that stored m1..m30 in "lobby", and a reader not yet joined."""
    writer = await connect(server, "writer")
    await writer.join("lobby")
    messages = await fill(writer, "lobby", 30)
    reader = await connect(server, "reader")
    return writer, reader, messages


async def test_join_without_since_returns_the_newest_page_oldest_first(
        room30):
    _, reader, messages = room30
    ack = await reader.join("lobby", limit=10)
    assert seqs(ack["history"]) == list(range(21, 31))
    assert ack["history"] == messages[20:]
    assert ack["more"] is True
    assert ack["last_seq"] == 30
    assert not ack.get("gap")


async def test_join_returns_everything_when_it_fits(room30):
    _, reader, messages = room30
    ack = await reader.join("lobby")
    assert ack["history"] == messages
    assert ack["more"] is False
    assert ack["last_seq"] == 30


async def test_join_limit_defaults_to_50(server, connect):
    writer = await connect(server, "writer")
    await writer.join("lobby")
    await fill(writer, "lobby", 55)
    reader = await connect(server, "reader")
    ack = await reader.join("lobby")
    assert seqs(ack["history"]) == list(range(6, 56))
    assert ack["more"] is True


@pytest.mark.parametrize("since, limit, expected, more", [
    (0, 10, range(1, 11), True),
    (5, 10, range(6, 16), True),
    (20, 10, range(21, 31), False),
    (25, 10, range(26, 31), False),
    (29, 50, range(30, 31), False),
    (30, 10, range(0), False),
])
async def test_join_with_since_returns_what_follows_it(room30, since, limit,
                                                       expected, more):
    _, reader, _ = room30
    ack = await reader.join("lobby", since=since, limit=limit)
    assert seqs(ack["history"]) == list(expected)
    assert ack["more"] is more
    assert ack["last_seq"] == 30
    assert not ack.get("gap")


async def test_join_with_since_beyond_the_last_seq_is_a_gap_and_the_newest_page(
        room30):
    _, reader, messages = room30
    ack = await reader.join("lobby", since=1000, limit=10)
    assert ack["gap"] is True
    assert ack["history"] == messages[20:] and ack["more"] is True
    assert ack["last_seq"] == 30


async def test_limit_zero_returns_no_messages(room30, connect, server):
    _, reader, _ = room30
    ack = await reader.join("lobby", limit=0)
    assert ack["history"] == []
    assert ack["more"] is True
    assert ack["last_seq"] == 30
    page = await reader.history("lobby", limit=0)
    assert page["messages"] == []
    assert page["more"] is True
    empty = await connect(server, "other")
    ack = await empty.join("empty-room", limit=0)
    assert ack["history"] == []
    assert ack["more"] is False


async def test_limit_200_is_allowed_and_201_is_not(server, connect):
    writer = await connect(server, "writer")
    await writer.join("big")
    await fill(writer, "big", 205)
    reader = await connect(server, "reader")
    ack = await reader.join("big", limit=200)
    assert seqs(ack["history"]) == list(range(6, 206))
    assert ack["more"] is True
    page = await reader.history("big", limit=200, before=206)
    assert seqs(page["messages"]) == list(range(6, 206))
    assert_error(await reader.call("join", {"room": "big", "limit": 201}),
                 INVALID_PAYLOAD)
    assert_error(await reader.call("history", {"room": "big", "limit": 201}),
                 INVALID_PAYLOAD)


async def test_history_without_cursor_returns_the_newest_page(room30):
    writer, _, messages = room30
    page = await writer.history("lobby", limit=5)
    assert set(page) == {"ok", "messages", "more", "epoch"}
    assert page["messages"] == messages[25:]
    assert page["more"] is True
    page = await writer.history("lobby")
    assert page["messages"] == messages
    assert page["more"] is False


@pytest.mark.parametrize("cursor, limit, expected, more", [
    ({"before": 11}, 5, range(6, 11), True),
    ({"before": 6}, 5, range(1, 6), False),
    ({"before": 3}, 5, range(1, 3), False),
    ({"before": 1}, 5, range(0), False),
    ({"before": 31}, 3, range(28, 31), True),
    ({"before": 1000}, 3, range(28, 31), True),
    ({"after": 0}, 5, range(1, 6), True),
    ({"after": 5}, 5, range(6, 11), True),
    ({"after": 25}, 5, range(26, 31), False),
    ({"after": 27}, 10, range(28, 31), False),
    ({"after": 30}, 10, range(0), False),
])
async def test_history_before_and_after_are_exclusive(room30, cursor, limit,
                                                      expected, more):
    writer, _, _ = room30
    page = await writer.history("lobby", limit=limit, **cursor)
    assert seqs(page["messages"]) == list(expected)
    assert page["more"] is more


async def test_history_with_before_and_after_is_invalid(room30):
    writer, _, _ = room30
    error = assert_error(
        await writer.call("history",
                          {"room": "lobby", "before": 20, "after": 10}),
        INVALID_PAYLOAD)
    assert error["retryable"] is False


async def test_paging_backwards_walks_the_whole_room(room30):
    writer, _, messages = room30
    page = await writer.history("lobby", limit=7)
    collected = list(page["messages"])
    while page["more"]:
        page = await writer.history("lobby", limit=7,
                                    before=collected[0]["seq"])
        collected = page["messages"] + collected
    assert collected == messages


async def test_paging_forwards_from_a_join_catches_up(room30):
    _, reader, messages = room30
    ack = await reader.join("lobby", since=3, limit=8)
    collected = list(ack["history"])
    more = ack["more"]
    while more:
        page = await reader.history("lobby", limit=8,
                                    after=collected[-1]["seq"])
        collected += page["messages"]
        more = page["more"]
    assert collected == messages[3:]


async def test_history_pages_include_messages_of_every_user(server, connect):
    alice = await connect(server, "alice", name="Alice")
    bob = await connect(server, "bob", name="Bob")
    await alice.join("lobby")
    await bob.join("lobby")
    a = await alice.send("lobby", "from alice")
    b = await bob.send("lobby", "from bob")
    page = await alice.history("lobby")
    assert page["messages"] == [a["message"], b["message"]]


class TestRetention:
    """With ``CHATIO_HISTORY_RETENTION=5`` and 12 messages, seqs 8..12 are
    kept; a client that last saw seq 6 or less has missed something."""

    @pytest.fixture
    async def trimmed(self, start_server, connect):
        server = await start_server(history_retention=5)
        writer = await connect(server, "writer")
        await writer.join("lobby")
        await fill(writer, "lobby", 12)
        reader = await connect(server, "reader")
        return writer, reader

    async def test_retention_keeps_the_newest_messages(self, trimmed):
        writer, reader = trimmed
        ack = await reader.join("lobby")
        assert seqs(ack["history"]) == [8, 9, 10, 11, 12]
        assert ack["more"] is False
        assert ack["last_seq"] == 12
        page = await writer.history("lobby", before=10)
        assert seqs(page["messages"]) == [8, 9]
        assert page["more"] is False

    @pytest.mark.parametrize("since", [0, 2, 6])
    async def test_since_older_than_retention_reports_a_gap(self, trimmed,
                                                            since):
        _, reader = trimmed
        ack = await reader.join("lobby", since=since)
        assert ack["gap"] is True
        assert seqs(ack["history"]) == [8, 9, 10, 11, 12]
        assert ack["more"] is False

    async def test_gap_page_respects_limit(self, trimmed):
        _, reader = trimmed
        ack = await reader.join("lobby", since=1, limit=2)
        assert ack["gap"] is True
        assert seqs(ack["history"]) == [8, 9]
        assert ack["more"] is True

    @pytest.mark.parametrize("since", [7, 9, 12])
    async def test_since_within_retention_has_no_gap(self, trimmed, since):
        _, reader = trimmed
        ack = await reader.join("lobby", since=since)
        assert not ack.get("gap")
        assert seqs(ack["history"]) == list(range(since + 1, 13))

    async def test_seq_keeps_counting_after_trimming(self, trimmed):
        writer, _ = trimmed
        ack = await writer.send("lobby", "thirteen")
        assert ack["message"]["seq"] == 13
        page = await writer.history("lobby")
        assert seqs(page["messages"]) == [9, 10, 11, 12, 13]
