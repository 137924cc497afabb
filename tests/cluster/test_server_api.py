"""The server API in a cluster: one node's API acts on every node."""
from __future__ import annotations

from chatio.constants import CHAT_NAMESPACE, EVENT_CHATIO_ERROR, KICKED
from support import assert_ok
from support.http import API_KEY, bearer, request
from support.multi import client_pool



async def test_disconnect_reaches_the_users_sockets_on_other_nodes(
        redis_server, start_node, token):
    node_a = await start_node(redis_server, api_key=API_KEY)
    node_b = await start_node(redis_server, api_key=API_KEY)
    async with client_pool(token) as pool:
        far = await pool.connect(node_b, "alice", namespaces=(CHAT_NAMESPACE,))
        near = await pool.connect(node_a, "alice", namespaces=(CHAT_NAMESPACE,))
        bob = await pool.connect(node_b, "bob", namespaces=(CHAT_NAMESPACE,))
        status, _ = await request("POST", node_a.url + "/api/disconnect",
                                  json={"user": "alice"}, headers=bearer())
        assert status == 200
        for client in (far, near):
            notice = await client.next(CHAT_NAMESPACE, EVENT_CHATIO_ERROR)
            assert notice["error"]["code"] == KICKED
            await client.wait_disconnected(CHAT_NAMESPACE)
        await bob.roundtrip(CHAT_NAMESPACE)
        assert bob.connected(CHAT_NAMESPACE)


async def test_room_state_and_publish_span_the_cluster(
        redis_server, start_node, token):
    node_a = await start_node(redis_server, api_key=API_KEY)
    node_b = await start_node(redis_server, api_key=API_KEY)
    async with client_pool(token) as pool:
        alice = await pool.connect(node_b, "alice", namespaces=(CHAT_NAMESPACE,))
        assert_ok(await alice.join("lobby"))
        status, body = await request(
            "POST", node_a.url + "/api/publish", headers=bearer(),
            json={"room": "lobby", "text": "from a backend"})
        assert status == 200
        assert await alice.next(CHAT_NAMESPACE, "message") == body["message"]
        status, state = await request("GET", node_a.url + "/api/rooms/lobby",
                                      headers=bearer())
        assert state["last_seq"] == body["message"]["seq"] == 1
        assert state["members"] == [
            {"id": "alice", "name": "alice", "devices": 1}]
