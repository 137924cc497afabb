"""The Admin UI of a cluster: an admin connected to one node sees every
node's server stats, sockets and events, through the shared Redis."""
from __future__ import annotations

import json

from chatio.transport.admin_view import REDACTED
from support import assert_ok
from support.admin import AdminClient

PASSWORD = "cluster-admin-password"
CREDENTIALS = {"username": "ops", "password": PASSWORD}


async def test_admin_on_one_node_sees_every_node(redis_server, start_node,
                                                 connect, token):
    admin_settings = {"admin_user": "ops", "admin_password": PASSWORD}
    node_a = await start_node(redis_server, node_id="node-a", **admin_settings)
    node_b = await start_node(redis_server, node_id="node-b", **admin_settings)
    early = await connect(node_b, "early", location="query")
    early_sid = early.sio.get_sid("/chat")

    admin = AdminClient()
    try:
        await admin.connect(node_a.url, CREDENTIALS)
        seen: dict[str, dict] = {}

        def from_node(stats: dict) -> bool:
            seen[stats["serverId"]] = stats
            return {"node-a", "node-b"} <= set(seen)
        await admin.wait("server_stats", from_node, timeout=15)
        counts = {n["name"]: n["socketsCount"]
                  for n in seen["node-b"]["namespaces"]}
        assert counts["/chat"] == 1, counts

        # A socket of node-b that was there before the admin came.
        listed, _ = await admin.wait("socket_connected",
                                     lambda s, t: s["id"] == early_sid)
        assert listed["handshake"]["query"]["token"] == REDACTED
        assert token("early").split(".")[0] not in json.dumps(listed)

        # A socket of node-b that comes later, and what it does.
        late = await connect(node_b, "late")
        late_sid = late.sio.get_sid("/chat")
        await admin.wait("socket_connected", lambda s, t: s["id"] == late_sid)
        assert_ok(await late.join("lobby"))
        assert_ok(await early.join("lobby"))
        assert_ok(await late.send("lobby", "from node b"))
        await admin.wait("event_received", lambda nsp, sid, args, t:
                         sid == late_sid and args[0] == "message")
        await admin.wait("event_sent", lambda nsp, sid, args, t:
                         sid == early_sid and args[0] == "message")
    finally:
        await admin.close()
