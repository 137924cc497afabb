"""A node of a cluster behind nginx stops gracefully (SIGTERM, as in a
deploy): its clients reconnect through nginx to another node within the
grace period, so presence does not flap for anybody else."""
from __future__ import annotations

import asyncio
import json

import pytest

from chatio.constants import CHAT_NAMESPACE, PRESENCE_NAMESPACE
from support.cluster import Cluster
from support.multi import presence_event
from support.nginx import NginxProcess, require_nginx

CHAT, PRESENCE = CHAT_NAMESPACE, PRESENCE_NAMESPACE
GRACE = 3.0
RECONNECT_TIMEOUT = 15.0


@pytest.fixture
async def cluster(start_cluster):
    require_nginx()
    return await start_cluster(CHATIO_PRESENCE_GRACE=str(GRACE),
                               CHATIO_TRUSTED_PROXIES="127.0.0.1")


def serving(cluster: Cluster, user: str) -> list[int]:
    """Indexes of the nodes that logged a /chat connection of ``user``."""
    found = []
    for index, node in enumerate(cluster.nodes):
        for line in node.all_output().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if (record.get("msg") in ("connected", "recovered")
                    and record.get("user") == user
                    and record.get("namespace") == CHAT):
                found.append(index)
    return found


async def test_sigterm_of_a_node_does_not_flap_presence(cluster, puppet,
                                                       tmp_path):
    nodes = [f"{n.host}:{n.port}" for n in cluster.nodes]
    with NginxProcess(tmp_path / "nginx", nodes) as proxy:
        await puppet.connect("alice", proxy.url,
                             cluster.token("alice", name="Alice"), [CHAT],
                             local_address="127.0.0.7", reconnection=True)
        assert (await puppet.call("alice", CHAT, "join",
                                  {"room": "lobby"}))["ok"]
        [doomed] = serving(cluster, "alice")
        survivor = cluster.nodes[(doomed + 1) % len(cluster.nodes)]
        await puppet.connect("watcher", survivor.url,
                             cluster.token("watcher"), [PRESENCE])
        ack = await puppet.call("watcher", PRESENCE, "subscribe",
                                {"room": "lobby"})
        assert [m["id"] for m in ack["members"]] == ["alice"]

        statuses = puppet.statuses[("alice", CHAT)]
        assert (await statuses.get())["status"] == "connect"
        await cluster.nodes[doomed].terminate()
        assert (await statuses.get())["status"] == "disconnect"
        reconnected = await _next_status(statuses, "connect")
        assert reconnected["status"] == "connect"
        # What every client does after a reconnect: rejoin its rooms.
        rejoin = await puppet.call("alice", CHAT, "join", {"room": "lobby"})
        assert rejoin["ok"], rejoin
        assert set(serving(cluster, "alice")) - {doomed}

        # Past the grace period (a wait for something that must not
        # happen): nobody saw alice leave or come back.
        await asyncio.sleep(GRACE + 1)
        members = await puppet.call("watcher", PRESENCE, "subscribe",
                                    {"room": "lobby"})
        assert [m["id"] for m in members["members"]] == ["alice"]
        assert puppet.pending("watcher", PRESENCE, "presence") == []
        # The alternative would have been visible: leaving is announced.
        assert (await puppet.call("alice", CHAT, "leave",
                                  {"room": "lobby"}))["ok"]
        assert await puppet.next("watcher", PRESENCE, "presence") == \
            presence_event("lobby", "alice", "Alice", "left")


async def _next_status(statuses, wanted: str):
    while True:
        status = await asyncio.wait_for(statuses.get(), RECONNECT_TIMEOUT)
        if status["status"] == wanted:
            return status
