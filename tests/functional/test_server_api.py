"""The server API for backends: publish, disconnect, room state, history."""
from __future__ import annotations

import pytest

from chatio.constants import (CHAT_NAMESPACE, EVENT_CHATIO_ERROR,
                              INVALID_PAYLOAD, KICKED, PRESENCE_NAMESPACE,
                              RATE_LIMITED, UNAUTHORIZED)
from chatio.settings import Rate
from support import BACKENDS
from support.http import API_KEY, bearer, request
from support.multi import ALL_NAMESPACES, client_pool


pytestmark = pytest.mark.parametrize("backend", BACKENDS)


@pytest.fixture
async def api(start_server):
    return await start_server(api_key=API_KEY)


@pytest.fixture
async def pool(token):
    async with client_pool(token) as made:
        yield made


async def post(server, path, body, headers=None):
    return await request("POST", server.url + path, json=body,
                         headers=bearer() if headers is None else headers)


async def get(server, path, headers=None):
    return await request("GET", server.url + path,
                         headers=bearer() if headers is None else headers)


def failed(body, code):
    assert body["ok"] is False, body
    assert body["error"]["code"] == code, body
    return body["error"]


# -- auth -----------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [
    ("POST", "/api/publish"), ("POST", "/api/disconnect"),
    ("GET", "/api/rooms/lobby"), ("GET", "/api/rooms/lobby/history")])
async def test_every_route_needs_the_api_key(start_server, method, path):
    without = await start_server()
    status, _ = await request(method, without.url + path, json={},
                              headers=bearer())
    assert status == 404
    server = await start_server(api_key=API_KEY)
    for headers in (None, bearer("wrong-key"), {"Authorization": API_KEY}):
        status, body = await request(method, server.url + path, json={},
                                     headers=headers)
        assert status == 401
        failed(body, UNAUTHORIZED)


# -- publish --------------------------------------------------------------------


async def test_publish_stores_and_broadcasts_like_a_message(api, connect):
    alice = await connect(api, "alice")
    await alice.join("lobby")
    sent = await alice.send("lobby", "first")
    status, body = await post(api, "/api/publish", {
        "room": "lobby", "text": "  notice  ",
        "user": {"id": "moderator", "name": "Mod"}})
    assert status == 200, body
    message = body["message"]
    assert body["ok"] is True and body["duplicate"] is False
    assert message["seq"] == sent["message"]["seq"] + 1
    assert message["text"] == "notice"
    assert message["user"] == {"id": "moderator", "name": "Mod"}
    assert await alice.next("message") == message
    history = await alice.history("lobby")
    assert history["messages"][-1] == message


async def test_publish_without_user_comes_from_system(api, connect):
    alice = await connect(api, "alice")
    await alice.join("lobby")
    status, body = await post(api, "/api/publish",
                              {"room": "lobby", "text": "hi"})
    assert status == 200
    assert body["message"]["user"] == {"id": "system", "name": "system"}
    assert (await alice.next("message"))["user"]["id"] == "system"


async def test_publish_is_idempotent_by_client_id(api, connect):
    alice = await connect(api, "alice")
    await alice.join("lobby")
    body = {"room": "lobby", "text": "once", "client_id": "c-1",
            "user": {"id": "bot"}}
    _, first = await post(api, "/api/publish", body)
    _, again = await post(api, "/api/publish", {**body, "text": "changed"})
    assert first["duplicate"] is False and again["duplicate"] is True
    assert again["message"] == first["message"]
    assert (await alice.next("message"))["text"] == "once"
    await alice.roundtrip()
    assert alice.pending("message") == []
    # The socket path sees the same client_id as the same message.
    bot = await connect(api, "bot")
    await bot.join("lobby")
    resent = await bot.send("lobby", "once", client_id="c-1")
    assert resent["duplicate"] is True
    assert resent["message"]["seq"] == first["message"]["seq"]


async def test_publish_validates_like_a_message(start_server):
    server = await start_server(api_key=API_KEY, max_message_chars=5)
    cases = [
        ({"room": "lobby"}, "text"),
        ({"room": "bad room", "text": "x"}, "room"),
        ({"room": "lobby", "text": "toolong"}, "text"),
        ({"room": "lobby", "text": "   "}, "text"),
        ({"room": "lobby", "text": "x", "extra": 1}, "extra"),
        ({"room": "lobby", "text": "x", "user": {"name": "n"}}, "user"),
        ({"room": "lobby", "text": "x", "user": {"id": 5}}, "user"),
        ({"room": "lobby", "text": "x", "client_id": ""}, "client_id"),
        ({"room": "lobby", "text": "x", "user": {"id": "u" * 65}}, "user"),
    ]
    for body, field in cases:
        status, answer = await post(server, "/api/publish", body)
        assert status == 400, body
        assert field in failed(answer, INVALID_PAYLOAD)["details"], answer
    status, answer = await request("POST", server.url + "/api/publish",
                                   data=b"[" * 100000, headers=bearer())
    assert status == 400
    failed(answer, INVALID_PAYLOAD)


async def test_publish_obeys_the_message_rate_limit(start_server):
    server = await start_server(api_key=API_KEY, rate_messages=Rate(0.01, 1))
    body = {"room": "lobby", "text": "x", "user": {"id": "bot"}}
    status, _ = await post(server, "/api/publish", body)
    assert status == 200
    status, answer = await post(server, "/api/publish", body)
    assert status == 429
    assert failed(answer, RATE_LIMITED)["details"]["retry_after_ms"] > 0


# -- disconnect -----------------------------------------------------------------


async def test_disconnect_ends_every_socket_of_the_user(api, pool, connect):
    phone = await pool.connect(api, "alice")
    laptop = await pool.connect(api, "alice", namespaces=(CHAT_NAMESPACE,))
    bob = await connect(api, "bob")
    status, body = await post(api, "/api/disconnect",
                              {"user": "alice", "reason": "account deleted"})
    assert status == 200 and body == {"ok": True}
    for client, namespaces in ((phone, ALL_NAMESPACES),
                               (laptop, (CHAT_NAMESPACE,))):
        for ns in namespaces:
            notice = await client.next(ns, EVENT_CHATIO_ERROR)
            assert notice == {"event": None, "error": {
                "code": KICKED, "message": "account deleted",
                "retryable": False}}
            await client.wait_disconnected(ns)
    await bob.roundtrip()
    assert bob.connected


async def test_disconnect_of_an_unknown_user_is_harmless(api, connect):
    bob = await connect(api, "bob")
    status, body = await post(api, "/api/disconnect", {"user": "nobody"})
    assert status == 200
    await bob.roundtrip()
    status, body = await post(api, "/api/disconnect", {"user": ""})
    assert status == 400
    failed(body, INVALID_PAYLOAD)


# -- room state and history -----------------------------------------------------


async def test_room_state_lists_members_with_devices_and_last_seq(api, pool):
    await (await pool.connect(api, "alice")).join("lobby")
    await (await pool.connect(api, "alice")).join("lobby")
    bob = await pool.connect(api, "bob", name="Bob")
    await bob.join("lobby")
    await bob.send("lobby", "hello")
    watcher = await pool.connect(api, "carol", namespaces=(PRESENCE_NAMESPACE,))
    await watcher.call(PRESENCE_NAMESPACE, "subscribe", {"room": "lobby"})
    status, body = await get(api, "/api/rooms/lobby")
    assert status == 200, body
    epoch = (await bob.join("lobby"))["epoch"]
    assert body == {"ok": True, "room": "lobby", "last_seq": 1,
                    "epoch": epoch, "members": [
        {"id": "alice", "name": "alice", "devices": 2},
        {"id": "bob", "name": "Bob", "devices": 1}]}
    status, body = await get(api, "/api/rooms/empty")
    assert body == {"ok": True, "room": "empty", "last_seq": 0,
                    "epoch": body["epoch"], "members": []}
    assert len(body["epoch"]) == 16 and body["epoch"] != epoch
    status, body = await get(api, "/api/rooms/bad%20room")
    assert status == 400
    failed(body, INVALID_PAYLOAD)


async def test_history_pages_match_the_history_event(api, connect):
    alice = await connect(api, "alice")
    await alice.join("lobby")
    for i in range(5):
        await alice.send("lobby", f"m{i}")
    for query, fields in [("", {}), ("?limit=2", {"limit": 2}),
                          ("?before=4&limit=2", {"before": 4, "limit": 2}),
                          ("?after=3", {"after": 3}), ("?limit=0", {"limit": 0})]:
        status, body = await get(api, "/api/rooms/lobby/history" + query)
        assert status == 200, body
        assert body == await alice.history("lobby", **fields), query


@pytest.mark.parametrize("query,field", [
    ("?limit=abc", "limit"), ("?limit=201", "limit"), ("?before=-1", "before"),
    ("?limit=1&limit=2", "limit"), ("?after=1&before=3", "_schema"),
    ("?page=1", "page"), ("?limit=1.0", "limit")])
async def test_history_query_is_validated(api, query, field):
    status, body = await get(api, "/api/rooms/lobby/history" + query)
    assert status == 400
    assert field in failed(body, INVALID_PAYLOAD)["details"]


async def test_the_openapi_document_names_every_api_route(api):
    status, doc = await request("GET", api.url + "/api/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.")
    assert {"/api/publish", "/api/disconnect", "/api/rooms/{room}",
            "/api/rooms/{room}/history", "/api/tokens", "/api/guest",
            "/healthz", "/readyz", "/metrics"} <= set(doc["paths"])
