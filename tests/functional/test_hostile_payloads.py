"""Every handler fed hostile payloads answers INVALID_PAYLOAD and carries on.

Each case runs on a socket that has joined "lobby", so that the payload is
the only thing wrong with the request.
"""
from __future__ import annotations

import json

import pytest

from chatio.constants import (EVENT_CHATIO_ERROR, INTERNAL, INVALID_PAYLOAD,
                              UNAVAILABLE)
from support import BACKENDS, assert_error, assert_ok

NON_DICTS = [None, [], ["lobby"], [{"room": "lobby"}], "lobby", "", 0, 5,
             -1, 1.5, True, False]
NON_DICT_IDS = ["null", "empty-list", "list", "list-of-dict", "string",
                "empty-string", "zero", "int", "negative", "float", "true",
                "false"]

BAD_ROOMS = {
    "int": 5, "null": None, "true": True, "list": ["lobby"],
    "dict": {"name": "lobby"}, "float": 1.5,
    "empty": "", "space": "the lobby", "slash": "a/b", "hash": "a#b",
    "too-long": "r" * 65, "huge": "r" * 20000, "non-ascii": "caf\u00e9",
    "emoji": "\U0001f600", "nul": "a\x00b", "newline": "lobby\n",
    "tab": "\tlobby", "star": "lob*", "percent": "a%20b",
}

BAD_TEXTS = {
    "int": 5, "null": None, "true": True, "list": ["hi"], "dict": {"t": 1},
    "empty": "", "spaces": "   ", "whitespace-only": "\u3000\u2003\n\t \r",
    "too-long": "a" * 2001, "emoji-too-long": "\U0001f600" * 2001,
    "huge": "a" * 60000,
    "nul": "a\x00b", "bell": "a\x07b", "backspace": "a\x08b",
    "escape": "a\x1b[31mred", "delete": "a\x7fb", "c1-control": "a\x9bb",
    "carriage-return": "a\rb", "vertical-tab": "a\x0bb",
    "form-feed": "a\x0cb", "unit-separator": "a\x1fb",
}

BAD_CLIENT_IDS = {
    "empty": "", "too-long": "x" * 65, "huge": "x" * 20000, "int": 7,
    "true": True, "list": ["a"], "dict": {"a": 1}, "nul": "a\x00b",
    "newline": "a\nb", "tab": "a\tb", "escape": "\x1b", "delete": "\x7f",
}

BAD_INTS = {
    "string": "1", "true": True, "false": False, "float": 1.5,
    "negative": -1, "list": [1], "dict": {"n": 1}, "empty-string": "",
}


def cases():
    """(event, payload, field named in the error details or None)."""
    out = []
    for event in ("join", "leave", "message", "history"):
        for value, name in zip(NON_DICTS, NON_DICT_IDS):
            out.append(pytest.param(event, value, None,
                                    id=f"{event}-payload-{name}"))
        base = {"room": "lobby", "text": "hi"} if event == "message" \
            else {"room": "lobby"}
        out.append(pytest.param(event, {}, "room", id=f"{event}-empty"))
        for name, room in BAD_ROOMS.items():
            out.append(pytest.param(event, {**base, "room": room}, "room",
                                    id=f"{event}-room-{name}"))
        missing = {k: v for k, v in base.items() if k != "room"}
        out.append(pytest.param(event, missing, "room",
                                id=f"{event}-missing-room"))
        for extra in ("user", "extra", "Room", "__proto__"):
            out.append(pytest.param(event, {**base, extra: {"id": "admin"}},
                                    extra, id=f"{event}-unknown-{extra}"))
    for name, text in BAD_TEXTS.items():
        out.append(pytest.param("message", {"room": "lobby", "text": text},
                                "text", id=f"message-text-{name}"))
    out.append(pytest.param("message", {"room": "lobby"}, "text",
                            id="message-missing-text"))
    for name, client_id in BAD_CLIENT_IDS.items():
        out.append(pytest.param("message", {"room": "lobby", "text": "hi",
                                            "client_id": client_id},
                                "client_id", id=f"message-client_id-{name}"))
    for field in ("since", "limit"):
        for name, value in BAD_INTS.items():
            out.append(pytest.param("join", {"room": "lobby", field: value},
                                    field, id=f"join-{field}-{name}"))
    for field in ("before", "after", "limit"):
        for name, value in BAD_INTS.items():
            out.append(pytest.param("history", {"room": "lobby",
                                                field: value},
                                    field, id=f"history-{field}-{name}"))
    for event in ("join", "history"):
        for limit in (-1, 201, 10**6):
            out.append(pytest.param(event, {"room": "lobby", "limit": limit},
                                    "limit", id=f"{event}-limit-{limit}"))
    out += [
        pytest.param("join", {"room": "lobby", "before": 1}, "before",
                     id="join-unknown-before"),
        pytest.param("history", {"room": "lobby", "since": 1}, "since",
                     id="history-unknown-since"),
        pytest.param("history", {"room": "lobby", "before": 5, "after": 1},
                     None, id="history-before-and-after"),
        pytest.param("leave", {"room": "lobby", "text": "bye"}, "text",
                     id="leave-unknown-text"),
        pytest.param("message", {"room": "lobby", "text": "hi", "seq": 1},
                     "seq", id="message-unknown-seq"),
    ]
    return out


@pytest.mark.parametrize("event, payload, field", cases())
async def test_hostile_payload_is_invalid_payload(server, connect, event,
                                                  payload, field):
    client = await connect(server, "alice")
    await client.join("lobby")
    error = assert_error(await client.call(event, payload), INVALID_PAYLOAD)
    assert error["retryable"] is False
    if field is not None:
        assert "details" in error, "field errors are listed in details"
        assert field in json.dumps(error["details"]), error
    # The socket is still connected, still a member, and still works.
    assert client.connected
    ack = await client.send("lobby", "still fine")
    assert ack["message"]["text"] == "still fine"


@pytest.mark.parametrize("event", ["join", "leave", "message", "history"])
@pytest.mark.parametrize("args", [(), ({"room": "lobby"}, {"room": "lobby"}),
                                  ({"room": "lobby", "text": "a"}, "extra"),
                                  ({"room": "lobby"}, None, None)],
                         ids=["no-args", "two-dicts", "dict-and-string",
                              "three-args"])
async def test_wrong_argument_count_is_invalid_payload(server, connect, event,
                                                       args):
    client = await connect(server, "alice")
    await client.join("lobby")
    assert_error(await client.call(event, *args), INVALID_PAYLOAD)
    assert client.connected
    await client.send("lobby", "still fine")


@pytest.mark.parametrize("event", ["join", "leave", "message", "history"])
async def test_hostile_payload_without_callback_emits_chatio_error(
        server, connect, event):
    client = await connect(server, "alice")
    await client.join("lobby")
    await client.emit(event, ["not", "a", "dict"])
    notice = await client.next(EVENT_CHATIO_ERROR)
    assert notice["event"] == event
    assert notice["error"]["code"] == INVALID_PAYLOAD
    await client.emit(event)
    notice = await client.next(EVENT_CHATIO_ERROR)
    assert notice["event"] == event
    assert notice["error"]["code"] == INVALID_PAYLOAD
    await client.send("lobby", "still fine")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("event, payload", [
    ("join", {"room": "lobby", "since": 2**63}),
    ("join", {"room": "lobby", "since": 2**64 + 1}),
    ("join", {"room": "lobby", "since": 10**30}),
    ("history", {"room": "lobby", "before": 2**63}),
    ("history", {"room": "lobby", "before": 10**30}),
    ("history", {"room": "lobby", "after": 2**63}),
    ("history", {"room": "lobby", "after": 10**30}),
], ids=["since-2**63", "since-2**64+1", "since-1e30", "before-2**63",
        "before-1e30", "after-2**63", "after-1e30"])
async def test_huge_seq_cursors_are_answered_not_crashed(server, connect,
                                                         event, payload,
                                                         backend):
    """A seq beyond any stored one is either refused as INVALID_PAYLOAD or
    answered normally; it must never reach the store as an overflow."""
    client = await connect(server, "alice")
    await client.join("lobby")
    stored = await client.send("lobby", "one")
    ack = await client.call(event, payload)
    assert isinstance(ack, dict)
    if ack.get("ok") is False:
        assert ack["error"]["code"] not in (INTERNAL, UNAVAILABLE), ack
        assert_error(ack, INVALID_PAYLOAD)
    else:
        assert_ok(ack)
        if "since" in payload or "after" in payload:
            page = ack.get("history", ack.get("messages"))
            assert page == []
        else:
            assert ack["messages"] == [stored["message"]]
    await client.send("lobby", "still fine")


async def test_valid_boundaries_are_accepted(server, connect):
    client = await connect(server, "alice")
    await client.join("r" * 64)
    await client.join("A-z_0.9:@x")
    await client.join("lobby", since=0, limit=0)
    await client.join("lobby", limit=200)
    await client.history("lobby", before=1, limit=0)
    await client.history("lobby", after=0, limit=200)
    ack = await client.send("lobby", "x", client_id="c" * 64)
    assert ack["message"]["client_id"] == "c" * 64
