"""Room epochs on a real node: every position a client sees carries the
room's epoch, and a ``since`` from another epoch (or beyond the room's
last seq) gets ``gap`` and the room's current position instead of silence."""
from __future__ import annotations

import re
import pytest

from chatio.constants import INVALID_PAYLOAD
from support import BACKENDS, assert_error, assert_ok
from support.http import API_KEY, bearer, request

pytestmark = pytest.mark.parametrize("backend", BACKENDS)

EPOCH = re.compile(r"^[0-9a-f]{16}\Z")
OTHER_EPOCH = "0123456789abcdef"


@pytest.fixture
async def lobby(start_server, connect):
    """A node with the server API, a writer who stored m1..m5 in "lobby",
    and a reader not yet joined."""
    server = await start_server(api_key=API_KEY)
    writer = await connect(server, "writer")
    joined = await writer.join("lobby")
    sent = [(await writer.send("lobby", f"m{n}"))["message"]
            for n in range(1, 6)]
    reader = await connect(server, "reader")
    return server, writer, reader, joined["epoch"], sent


def seqs(messages: list[dict]) -> list[int]:
    return [m["seq"] for m in messages]


async def test_every_position_a_client_sees_carries_the_rooms_epoch(lobby):
    server, writer, reader, epoch, sent = lobby
    assert EPOCH.match(epoch)
    assert all(m["epoch"] == epoch for m in sent)
    ack = await reader.join("lobby")
    assert ack["epoch"] == epoch and ack["last_seq"] == 5
    assert ack["history"] == sent
    live = await writer.send("lobby", "live")
    assert live["message"]["epoch"] == epoch
    assert await reader.next("message") == live["message"]
    page = await reader.history("lobby", before=3)
    assert page["epoch"] == epoch and page["messages"] == sent[:2]
    edit = assert_ok(await writer.call("edit", {"room": "lobby", "seq": 1,
                                               "text": "m1 again"}))
    assert edit["message"]["epoch"] == epoch
    assert (await reader.next("message"))["epoch"] == epoch
    status, body = await request("GET", server.url + "/api/rooms/lobby",
                                 headers=bearer())
    assert status == 200 and body["epoch"] == epoch and body["last_seq"] == 7
    status, body = await request(
        "GET", server.url + "/api/rooms/lobby/history?after=5",
        headers=bearer())
    assert status == 200 and body["epoch"] == epoch
    assert [m["epoch"] for m in body["messages"]] == [epoch, epoch]


async def test_a_join_with_since_of_the_rooms_epoch_reads_on(lobby):
    _, _, reader, epoch, sent = lobby
    ack = await reader.join("lobby", since=3, epoch=epoch)
    assert ack["history"] == sent[3:] and "gap" not in ack
    assert ack["epoch"] == epoch and ack["last_seq"] == 5


async def test_a_join_with_since_of_another_epoch_gets_a_gap_and_the_newest_page(
        lobby):
    _, _, reader, epoch, sent = lobby
    ack = await reader.join("lobby", since=2, epoch=OTHER_EPOCH, limit=3)
    assert ack["gap"] is True
    assert ack["history"] == sent[2:] and ack["more"] is True
    assert ack["epoch"] == epoch and ack["last_seq"] == 5


async def test_a_since_beyond_last_seq_without_epoch_is_a_gap(lobby):
    _, _, reader, epoch, sent = lobby
    ack = await reader.join("lobby", since=5000)
    assert ack["gap"] is True
    assert ack["history"] == sent and ack["more"] is False
    assert ack["epoch"] == epoch and ack["last_seq"] == 5
    # At the last seq itself there is nothing missing.
    ack = await reader.join("lobby", since=5)
    assert ack["history"] == [] and "gap" not in ack


async def test_history_of_another_epoch_gets_a_gap_and_the_newest_page(lobby):
    _, _, reader, epoch, sent = lobby
    await reader.join("lobby", limit=0)
    for direction in ({"after": 1}, {"before": 4}):
        page = await reader.history("lobby", epoch=OTHER_EPOCH, limit=2,
                                    **direction)
        assert page["gap"] is True and page["epoch"] == epoch
        assert page["messages"] == sent[3:] and page["more"] is True
        page = await reader.history("lobby", epoch=epoch, limit=2,
                                    **direction)
        assert "gap" not in page and page["epoch"] == epoch
    # The newest page is the newest page, whatever epoch comes with it.
    page = await reader.history("lobby", epoch=OTHER_EPOCH)
    assert page["messages"] == sent and "gap" not in page


async def test_the_server_api_history_answers_another_epoch_with_a_gap(lobby):
    server, _, _, epoch, sent = lobby
    status, body = await request(
        "GET", server.url + f"/api/rooms/lobby/history?after=1&epoch="
        f"{OTHER_EPOCH}&limit=2", headers=bearer())
    assert status == 200, body
    assert body == {"ok": True, "messages": sent[3:], "more": True,
                    "gap": True, "epoch": epoch}
    status, body = await request(
        "GET", server.url + "/api/rooms/lobby/history?epoch=x&epoch=y",
        headers=bearer())
    assert status == 400 and body["error"]["code"] == INVALID_PAYLOAD


@pytest.mark.parametrize("bad", ["", "e" * 33, 5, None, ["abc"], "a\nb"])
async def test_a_bad_epoch_is_an_invalid_payload(server, connect, bad):
    alice = await connect(server, "alice")
    for event, payload in (("join", {"room": "lobby", "since": 1}),
                           ("history", {"room": "lobby", "after": 1})):
        if event == "history":
            await alice.join("lobby")
        error = assert_error(await alice.call(event, {**payload,
                                                      "epoch": bad}),
                             INVALID_PAYLOAD)
        assert "epoch" in error["details"]
