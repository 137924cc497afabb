"""``GET /metrics``: real clients do things, then the node is scraped and the
exposition parsed with Prometheus' own parser, and every count is exact.

Each test has a node of its own, so the counts start at zero.
"""
from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from chatio.constants import (CHAT_NAMESPACE, EVENT_CHATIO_ERROR,
                              INVALID_PAYLOAD, NOT_IN_ROOM, PRESENCE_NAMESPACE,
                              TOKEN_EXPIRED, TYPING_NAMESPACE, UNAUTHORIZED,
                              UNKNOWN_EVENT)
from chatio.metrics import chatio_version
from support import BACKENDS, assert_error, assert_ok, mint_token
from support.metrics import labels, scrape
from support.multi import ALL_NAMESPACES, client_pool

CHAT, PRESENCE, TYPING = CHAT_NAMESPACE, PRESENCE_NAMESPACE, TYPING_NAMESPACE


def events(**counts: dict) -> dict:
    """``{labels: count}`` for ``chatio_events_total``, from
    ``events(chat={("join", "ok"): 2})``."""
    return {labels(namespace=f"/{ns}", event=event, outcome=outcome): n
            for ns, by_event in counts.items()
            for (event, outcome), n in by_event.items()}


async def wait_for_sockets(url: str, expected: dict[str, float]) -> None:
    """Scrape until ``chatio_connected_sockets`` is ``expected`` per
    namespace: a disconnect is handled after the client has gone."""
    deadline = time.monotonic() + 10
    while True:
        result = await scrape(url)
        seen = {s["namespace"]: result.value("chatio_connected_sockets", **s)
                for s in result.series("chatio_connected_sockets")}
        if seen == expected or time.monotonic() > deadline:
            assert seen == expected
            return
        await asyncio.sleep(0.05)


async def test_metrics_are_prometheus_text_with_the_node_info(start_server):
    server = await start_server(node_id="node-a")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith(
                "text/plain; version=")
    result = await scrape(server.url)
    assert result.value("chatio_node_info", node_id="node-a",
                        version=chatio_version()) == 1
    assert chatio_version() != "unknown"
    assert result.types["chatio_events"] == "counter"
    assert result.types["chatio_store_latency_seconds"] == "histogram"
    assert result.nonzero("chatio_events_total") == {}
    assert result.value("chatio_messages_stored_total") == 0


async def test_two_nodes_in_one_process_count_separately(start_server,
                                                         connect):
    first = await start_server(node_id="first")
    second = await start_server(node_id="second")
    alice = await connect(first, "alice")
    await alice.join("lobby")
    await alice.send("lobby", "only on the first node")
    assert (await scrape(first.url)).value("chatio_messages_stored_total") == 1
    other = await scrape(second.url)
    assert other.value("chatio_messages_stored_total") == 0
    assert other.nonzero("chatio_events_total") == {}
    assert other.series("chatio_node_info")[0]["node_id"] == "second"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_chat_session_is_counted_exactly(server, connect):
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await alice.join("lobby")
    await bob.join("lobby")

    sent = await alice.send("lobby", "hello", client_id="c1")
    assert await bob.next("message") == sent["message"]
    retry = assert_ok(await alice.call(
        "message", {"room": "lobby", "text": "hello", "client_id": "c1"}))
    assert retry["duplicate"] is True

    # Hostile and unknown event names, with and without an ack id.
    assert_error(await alice.raw_call('["__proto__",{}]'), UNKNOWN_EVENT)
    assert_error(await alice.raw_call('["connect",{}]'), UNKNOWN_EVENT)
    assert_error(await alice.raw_call("[42,{}]"), UNKNOWN_EVENT)
    assert_error(await alice.call("x" * 5000, {}), UNKNOWN_EVENT)
    await alice.raw_send(f'[{json.dumps("evil" + chr(10) + "name")},{{}}]')
    assert (await alice.next(EVENT_CHATIO_ERROR))["error"]["code"] == \
        UNKNOWN_EVENT
    # Errors of known events.
    assert_error(await alice.call("history", {"room": "elsewhere"}),
                 NOT_IN_ROOM)
    assert_error(await alice.call("message", {"room": "lobby"}),
                 INVALID_PAYLOAD)

    result = await scrape(server.url)
    assert result.nonzero("chatio_events_total") == events(chat={
        ("join", "ok"): 2,
        ("message", "ok"): 2,
        ("unknown", UNKNOWN_EVENT): 5,
        ("history", NOT_IN_ROOM): 1,
        ("message", INVALID_PAYLOAD): 1,
    })
    assert result.nonzero("chatio_errors_total") == {
        labels(code=UNKNOWN_EVENT): 5, labels(code=NOT_IN_ROOM): 1,
        labels(code=INVALID_PAYLOAD): 1}
    # The retry was answered from the store and not stored again.
    assert result.value("chatio_messages_stored_total") == 1
    # The message once on /chat, and each first join on /presence.
    assert result.nonzero("chatio_broadcasts_total") == {
        labels(namespace=CHAT, event="message"): 1,
        labels(namespace=PRESENCE, event="presence"): 2}
    # The message reached bob; the chatio_error went to alice. Nobody
    # subscribed to /presence, so its broadcasts reached no socket.
    assert result.nonzero("chatio_deliveries_total") == {
        labels(namespace=CHAT): 2}
    # Both sends appended (the store's atomic append found the retry's
    # client_id), and neither made a lookup of its own; each join read a
    # page (with the last seq and epoch) and the user's read state.
    count = "chatio_store_latency_seconds_count"
    assert result.value(count, operation="append") == 2
    assert result.value(count, operation="read") == 4
    assert result.value("chatio_store_latency_seconds_bucket",
                        operation="append", le="+Inf") == 2
    assert result.value("chatio_connected_sockets", namespace=CHAT) == 2
    # No label value came from a client.
    for series in result.series("chatio_events_total"):
        assert series["event"] in {"join", "message", "history", "unknown"}


async def test_refused_connections_are_counted_as_errors(
        start_server, clients, secret):
    server = await start_server(token_ttl=60)
    await clients().refusal(server.url, None)
    await clients().refusal(server.url, "not-a-token")
    expired = mint_token(secret, "alice", issued_at=time.time() - 3600)
    await clients().refusal(server.url, expired)

    result = await scrape(server.url)
    assert result.nonzero("chatio_errors_total") == {
        labels(code=UNAUTHORIZED): 2, labels(code=TOKEN_EXPIRED): 1}
    assert result.nonzero("chatio_events_total") == {}
    assert result.value("chatio_connected_sockets", namespace=CHAT) == 0


async def test_connected_sockets_follow_connects_and_disconnects(
        server, token):
    async with client_pool(token) as pool:
        alice = await pool.connect(server, "alice")
        bob = await pool.connect(server, "bob", namespaces=(CHAT,))
        await wait_for_sockets(server.url,
                               {CHAT: 2, PRESENCE: 1, TYPING: 1})
        await alice.disconnect_namespace(TYPING)
        await wait_for_sockets(server.url,
                               {CHAT: 2, PRESENCE: 1, TYPING: 0})
        await bob.drop()
        await wait_for_sockets(server.url,
                               {CHAT: 1, PRESENCE: 1, TYPING: 0})
        await alice.close()
        await wait_for_sockets(server.url,
                               {CHAT: 0, PRESENCE: 0, TYPING: 0})


async def test_presence_and_typing_events_and_broadcasts(server, token):
    async with client_pool(token) as pool:
        alice = await pool.connect(server, "alice", namespaces=ALL_NAMESPACES)
        bob = await pool.connect(server, "bob", namespaces=(CHAT, TYPING))
        await alice.subscribe(PRESENCE, "lobby")
        await alice.subscribe(TYPING, "lobby")
        await bob.join("lobby")
        assert (await alice.next(PRESENCE, "presence"))["status"] == "joined"
        assert_ok(await bob.typing("lobby"))
        assert (await alice.next(TYPING, "typing"))["typing"] is True
        await bob.send("lobby", "done typing")
        assert (await alice.next(TYPING, "typing"))["typing"] is False
        # A /chat event name on another namespace, and a hostile one.
        assert_error(await alice.call(TYPING, "join", {"room": "lobby"}),
                     UNKNOWN_EVENT)
        assert_error(await alice.call(PRESENCE, "__proto__", {}),
                     UNKNOWN_EVENT)

        result = await scrape(server.url)
    assert result.nonzero("chatio_events_total") == events(
        chat={("join", "ok"): 1, ("message", "ok"): 1},
        presence={("subscribe", "ok"): 1, ("unknown", UNKNOWN_EVENT): 1},
        typing={("subscribe", "ok"): 1, ("typing", "ok"): 1,
                ("join", UNKNOWN_EVENT): 1},
    )
    assert result.nonzero("chatio_broadcasts_total") == {
        labels(namespace=PRESENCE, event="presence"): 1,
        labels(namespace=TYPING, event="typing"): 2,
        labels(namespace=CHAT, event="message"): 1}
    assert result.nonzero("chatio_volatile_skips_total") == {}
    # bob's join reached alice's /presence socket, his typing start and
    # stop her /typing socket (not his own), the message nobody but bob.
    assert result.nonzero("chatio_deliveries_total") == {
        labels(namespace=PRESENCE): 1, labels(namespace=TYPING): 2}
    assert result.value("chatio_messages_stored_total") == 1


async def test_openmetrics_is_negotiated_and_process_metrics_are_exported(
        server):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/metrics", headers={
                "Accept": "application/openmetrics-text; version=1.0.0"}) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/openmetrics-text"
            body = await resp.text()
    assert body.rstrip().endswith("# EOF")
    assert "chatio_transport_sessions" in body
    plain = await scrape(server.url)
    assert plain.value("process_resident_memory_bytes") > 0
    assert plain.value("process_open_fds") > 0
