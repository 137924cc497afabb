"""The Socket.IO Admin UI on /admin: off by default, behind a password,
reporting sockets, rooms, events and traffic, never a token."""
from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from chatio.constants import UNAUTHORIZED, UNKNOWN_NAMESPACE
from chatio.transport.admin_view import REDACTED
from support.admin import AdminClient

PASSWORD = "correct-horse-battery-staple"
CREDENTIALS = {"username": "ops", "password": PASSWORD}


@pytest.fixture
async def admins() -> AsyncIterator[Callable[[], AdminClient]]:
    made: list[AdminClient] = []

    def make() -> AdminClient:
        made.append(AdminClient())
        return made[-1]
    yield make
    for client in made:
        await client.close()


@pytest.fixture
async def admin_server(start_server):
    return await start_server(admin_user="ops", admin_password=PASSWORD,
                              node_id="node-a")


def chat_sockets(sockets: list[dict]) -> dict[str, dict]:
    return {s["id"]: s for s in sockets if s["nsp"] == "/chat"}


async def test_admin_namespace_is_unknown_by_default(server, admins):
    refused = await admins().refusal(server.url, CREDENTIALS)
    assert refused["data"]["code"] == UNKNOWN_NAMESPACE, refused


@pytest.mark.parametrize("auth", [
    None,
    {"username": "ops"},
    {"username": "ops", "password": "not-the-password"},
    {"username": "root", "password": PASSWORD},
    {"username": "ops", "password": [PASSWORD]},
], ids=["none", "no-password", "wrong-password", "wrong-user", "not-a-string"])
async def test_wrong_credentials_are_refused(admin_server, admins, auth,
                                             caplog):
    caplog.set_level(logging.DEBUG)
    refused = await admins().refusal(admin_server.url, auth)
    assert refused["message"] == "invalid credentials", refused
    assert refused["data"]["code"] == UNAUTHORIZED, refused
    assert "Admin UI login refused" in caplog.text
    assert PASSWORD not in caplog.text


async def test_socket_list_shows_clients_but_no_token(admin_server, connect,
                                                      admins, token, caplog):
    caplog.set_level(logging.DEBUG)
    by_location = {}
    for location in ("auth", "query", "header"):
        client = await connect(admin_server, f"user-{location}",
                               location=location)
        by_location[location] = client.sio.get_sid("/chat")
    admin = admins()
    await admin.connect(admin_server.url, CREDENTIALS)
    config, = await admin.wait("config")
    assert "ALL_EVENTS" in config["supportedFeatures"]
    assert not {"EMIT", "JOIN", "DISCONNECT"} & set(config["supportedFeatures"])
    sockets, = await admin.wait("all_sockets")
    listed = chat_sockets(sockets)
    assert set(by_location.values()) <= set(listed), listed
    query_socket = listed[by_location["query"]]
    assert query_socket["handshake"]["query"]["token"] == REDACTED
    assert query_socket["handshake"]["query"]["EIO"] == "4"
    header_socket = listed[by_location["header"]]
    assert header_socket["handshake"]["headers"]["authorization"] == REDACTED
    assert listed[by_location["auth"]]["data"]["user"] == {
        "id": "user-auth", "name": "user-auth"}
    assert listed[by_location["auth"]]["transport"] == "websocket"
    text = json.dumps(sockets)
    for location in by_location:
        assert token(f"user-{location}").split(".")[0] not in text
    assert "Bearer" not in text and PASSWORD not in text

    stats, = await admin.wait("server_stats",
                              lambda s: s["serverId"] == "node-a")
    counts = {n["name"]: n["socketsCount"] for n in stats["namespaces"]}
    assert counts["/chat"] == 3 and counts["/admin"] == 1, counts
    assert stats["clientsCount"] == 4
    assert PASSWORD not in caplog.text


async def test_reports_connections_rooms_events_and_traffic(
        admin_server, connect, admins):
    admin = admins()
    await admin.connect(admin_server.url, CREDENTIALS)
    await admin.wait("all_sockets")
    alice = await connect(admin_server, "alice", location="query")
    sid = alice.sio.get_sid("/chat")
    connected, _ = await admin.wait(
        "socket_connected", lambda s, t: s["id"] == sid)
    assert connected["nsp"] == "/chat"
    assert connected["handshake"]["query"]["token"] == REDACTED
    await alice.join("lobby")
    await admin.wait("room_joined", lambda nsp, room, who, t:
                     (nsp, room, who) == ("/chat", "lobby", sid))
    bob = await connect(admin_server, "bob")
    await bob.join("lobby")
    await alice.send("lobby", "hello admins")
    _, _, received, _ = await admin.wait(
        "event_received", lambda nsp, who, args, t:
        who == sid and args[0] == "message")
    assert received[1]["text"] == "hello admins"
    bob_sid = bob.sio.get_sid("/chat")
    _, _, sent, _ = await admin.wait("event_sent", lambda nsp, who, args, t:
                                     who == bob_sid and args[0] == "message")
    assert sent[1]["text"] == "hello admins"
    await admin.wait("server_stats", lambda s: {"packetsIn", "bytesOut"} <= {
        e["type"] for e in s["aggregatedEvents"]})
    await alice.close()
    await admin.wait("socket_disconnected",
                     lambda nsp, who, reason, t: who == sid)


async def test_a_refused_chat_socket_is_not_listed(admin_server, clients,
                                                   connect, admins):
    admin = admins()
    await admin.connect(admin_server.url, CREDENTIALS)
    await admin.wait("all_sockets")
    await clients().refusal(admin_server.url, "not-a-token")
    # Reports arrive in order: once a later socket is reported, the refused
    # one would have been too.
    later = await connect(admin_server, "carol")
    sid = later.sio.get_sid("/chat")
    await admin.wait("socket_connected", lambda s, t: s["id"] == sid)
    reported = [args[0]["id"] for name, args in admin.events
                if name == "socket_connected" and args[0]["nsp"] == "/chat"]
    assert reported == [sid]


async def test_an_upgraded_client_is_shown_on_websocket(
        admin_server, clients, token, admins):
    admin = admins()
    await admin.connect(admin_server.url, CREDENTIALS)
    await admin.wait("all_sockets")
    client = clients(("polling", "websocket"))
    await client.connect(admin_server.url, token("bob"))
    sid = client.sio.get_sid("/chat")
    connected, _ = await admin.wait("socket_connected",
                                    lambda s, t: s["id"] == sid)
    # The client upgrades as soon as it can, before or after /chat
    # connected: either way the UI ends up showing its WebSocket.
    if connected["transport"] == "polling":
        await admin.wait("socket_updated", lambda s: s["id"] == sid and
                         s["transport"] == "websocket")
    assert client.sio.transport() == "websocket"
