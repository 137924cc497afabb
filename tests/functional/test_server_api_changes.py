"""The server API's moderation routes: a backend edits or deletes any
message, exactly as the author's own edit and delete events would."""
from __future__ import annotations

import pytest

from chatio.constants import INVALID_PAYLOAD, NOT_FOUND, UNAUTHORIZED
from support import BACKENDS
from support.http import API_KEY, bearer, request

pytestmark = pytest.mark.parametrize("backend", BACKENDS)


@pytest.fixture
async def api(start_server):
    return await start_server(api_key=API_KEY)


async def post(server, path, body, headers=None):
    return await request("POST", server.url + path, json=body,
                         headers=bearer() if headers is None else headers)


async def test_a_backend_deletes_anyones_message_text_and_all(api, connect):
    alice = await connect(api, "alice")
    bob = await connect(api, "bob")
    await alice.join("lobby")
    await bob.join("lobby")
    sent = await alice.send("lobby", "something to moderate")
    await bob.next("message")
    status, body = await post(api, "/api/delete", {
        "room": "lobby", "seq": sent["message"]["seq"],
        "user": {"id": "moderator", "name": "Mod"}})
    assert status == 200, body
    entry = body["message"]
    assert entry["kind"] == "delete" and entry["target"] == sent["message"]["seq"]
    assert entry["user"] == {"id": "moderator", "name": "Mod"}
    # Both members hear it, the author included: the backend has no socket.
    assert await alice.next("message") == entry
    assert await bob.next("message") == entry
    page = await bob.history("lobby")
    moderated = next(m for m in page["messages"]
                     if m["seq"] == sent["message"]["seq"])
    assert moderated["deleted"] is True and "text" not in moderated


async def test_a_backend_edit_is_idempotent_and_shows_in_history(api, connect):
    alice = await connect(api, "alice")
    await alice.join("lobby")
    sent = await alice.send("lobby", "teh typo")
    body = {"room": "lobby", "seq": sent["message"]["seq"],
            "text": "  the typo  ", "client_id": "fix-1"}
    status, first = await post(api, "/api/edit", body)
    assert status == 200, first
    assert first["duplicate"] is False
    assert first["message"]["user"] == {"id": "system", "name": "system"}
    assert await alice.next("message") == first["message"]
    status, again = await post(api, "/api/edit", body)
    assert status == 200 and again["duplicate"] is True
    assert again["message"]["seq"] == first["message"]["seq"]
    page = await alice.history("lobby")
    edited = next(m for m in page["messages"]
                  if m["seq"] == sent["message"]["seq"])
    assert edited["text"] == "the typo" and "edited_at" in edited
    assert page["messages"][-1]["seq"] == first["message"]["seq"]


async def test_moderation_answers_not_found_and_invalid_payload(api, connect):
    status, body = await post(api, "/api/delete", {"room": "lobby", "seq": 99})
    assert status == 404
    assert body["error"]["code"] == NOT_FOUND
    for bad in ({"room": "lobby"}, {"room": "lobby", "seq": 0},
                {"room": "lobby", "seq": 1, "text": ""},
                {"room": "lobby", "seq": 1, "text": "x", "extra": 1}):
        status, body = await post(api, "/api/edit", bad)
        assert status == 400, (bad, body)
        assert body["error"]["code"] == INVALID_PAYLOAD


async def test_moderation_needs_the_api_key(api):
    for path in ("/api/edit", "/api/delete"):
        status, body = await post(api, path, {"room": "lobby", "seq": 1},
                                  headers=bearer("wrong"))
        assert status == 401
        assert body["error"]["code"] == UNAUTHORIZED
