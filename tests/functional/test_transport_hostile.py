"""Hostile input at the transport: every request answered in bounded time,
no binary packets, no deaf sockets, no zombie sessions, no 500s.

Each test sends what a hostile client would, byte for byte (a bare
WebSocket or raw long-poll requests), then checks the node's answer and
that it still serves everyone else.
"""
from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest

from chatio.constants import EVENT_CHATIO_ERROR, INVALID_PAYLOAD, UNKNOWN_NAMESPACE
from support.metrics import scrape
from support.raw_ws import RawWebSocket, event

TIMEOUT = aiohttp.ClientTimeout(total=5)
POLL = "/socket.io/?EIO=4&transport=polling"


async def handshake(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url + POLL) as resp:
        assert resp.status == 200
        body = await resp.text()
    return json.loads(body[1:])["sid"]


async def post(http: aiohttp.ClientSession, url: str, sid: str,
               body: bytes | str) -> tuple[int, str]:
    async with http.post(f"{url}{POLL}&sid={sid}", data=body) as resp:
        return resp.status, await resp.text()


async def connected_sockets(url: str) -> float:
    sample = (await scrape(url)).value("chatio_connected_sockets",
                                       namespace="/chat")
    return sample or 0.0


async def until(predicate, timeout: float = 5.0) -> None:
    """Await ``predicate()`` becoming true, polling every 20 ms."""
    async def wait() -> None:
        while not await predicate():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(wait(), timeout)


@pytest.mark.parametrize("body", ["6", "2", "0", "5", "x", "", "4"])
async def test_rejected_post_is_answered_at_once_and_ends_the_session(
        server, body):
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        sid = await handshake(http, server.url)
        status, text = await post(http, server.url, sid, body)
        assert status == 400, text
        assert json.loads(text)["code"] == "PROTOCOL_ERROR"
        async with http.get(f"{server.url}{POLL}&sid={sid}") as resp:
            assert resp.status in (200, 400)
            if resp.status == 200:  # the CLOSE packet, then nothing
                assert (await resp.text()).startswith("1")


async def test_many_rejected_posts_leave_no_session_behind(server):
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        for _ in range(200):
            sid = await handshake(http, server.url)
            status, _ = await post(http, server.url, sid, "6")
            assert status == 400
    # Sessions of rejected requests are closed, not waiting for a GET.
    async def none_left() -> bool:
        return (await scrape(server.url)).value("chatio_transport_sessions") == 0
    await until(none_left)


async def test_oversized_post_is_refused_with_its_code(start_server):
    server = await start_server(max_payload=1024)
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        sid = await handshake(http, server.url)
        status, text = await post(http, server.url, sid, "4" + "x" * 4000)
        assert status == 400
        assert json.loads(text)["code"] == "PAYLOAD_TOO_LARGE"


async def test_post_after_close_is_a_400_not_a_500(server):
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        sid = await handshake(http, server.url)
        assert (await post(http, server.url, sid, "1"))[0] == 200
        status, text = await post(http, server.url, sid, "1")
        assert status == 400, text
        assert json.loads(text)["code"] == "UNKNOWN_SESSION"


async def test_polling_binary_is_refused(server):
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        sid = await handshake(http, server.url)
        status, text = await post(http, server.url, sid, "bAAAA")
        assert status == 400
        assert json.loads(text)["code"] == "BINARY_UNSUPPORTED"


@pytest.mark.parametrize("packet", [
    '459999999999-/chat,1["message",{"room":"lobby","text":{"_placeholder":true,"num":0}}]',
    '451-/chat,30["message",{"_placeholder":true,"num":5}]',
    '461-/chat,3[{"_placeholder":true,"num":0}]',
])
async def test_binary_packet_ends_the_connection_with_its_code(
        server, token, packet):
    sock = await RawWebSocket.open(server.url)
    await sock.connect_namespace("/chat", token("mallory"))
    sock.send_text(packet)
    code, reason = await sock.closed()
    assert (code, reason) == (1003, "BINARY_UNSUPPORTED")
    await until(lambda: _zero(server.url))


async def test_binary_frame_ends_the_connection(server, token):
    sock = await RawWebSocket.open(server.url)
    await sock.connect_namespace("/chat", token("mallory"))
    sock.send_frame(2, b"\x04" + b"x" * 60000)
    assert await sock.closed() == (1003, "BINARY_UNSUPPORTED")


async def _zero(url: str) -> bool:
    return await connected_sockets(url) == 0


@pytest.mark.parametrize("frame", [
    b"", b"x", b"9", b"4", b"40/nope" + b"x" * 200,
], ids=["empty", "non-digit", "unknown-type", "empty-message", "bad-ns"])
async def test_broken_packets_close_the_session_at_once(server, token, frame):
    sock = await RawWebSocket.open(server.url)
    await sock.connect_namespace("/chat", token("mallory"))
    assert await connected_sockets(server.url) == 1
    sock.send_frame(1, frame)
    code, reason = await sock.closed()
    assert code == 1008 and reason == "PROTOCOL_ERROR"
    # No zombie: the session ends with its connection, not a ping later.
    await until(lambda: _zero(server.url), timeout=2)


async def test_unmasked_and_oversized_frames_close_the_connection(
        start_server, token):
    server = await start_server(max_payload=1024)
    sock = await RawWebSocket.open(server.url)
    sock.send_frame(1, b"40/chat,{}", masked=False)
    assert await sock.closed() == (1002, "PROTOCOL_ERROR")
    sock = await RawWebSocket.open(server.url)
    sock.send_frame(1, b"4" + b"x" * 2000)
    assert await sock.closed() == (1009, "PAYLOAD_TOO_LARGE")


async def test_fragmented_text_is_reassembled(server, token):
    sock = await RawWebSocket.open(server.url)
    await sock.connect_namespace("/chat", token("alice"))
    text = event("/chat", 7, "join", {"room": "lobby", "limit": 0})
    sock.send_frame(1, text[:10].encode(), fin=False)
    sock.send_frame(9, b"ping")  # a control frame between fragments
    sock.send_frame(0, text[10:].encode())
    assert (await sock.frame())[0] == 10  # pong
    packet = await sock.packet()
    assert packet.startswith("43/chat,7") and '"ok":true' in packet


@pytest.mark.parametrize("body", [
    "1" * 101,
    "[" * 30000 + "]" * 30000,
    '{"room":"lobby","text":"x","client_id":' + "9" * 101 + "}",
], ids=["huge-int", "deep", "huge-int-field"])
async def test_out_of_range_payloads_get_invalid_payload(server, token, body):
    sock = await RawWebSocket.open(server.url)
    await sock.connect_namespace("/chat", token("alice"))
    sock.send_text(f'42/chat,5["message",{body}]')
    packet = await sock.packet()
    assert packet.startswith("43/chat,5"), packet
    assert json.loads(packet[len("43/chat,5"):])[0]["error"]["code"] == INVALID_PAYLOAD
    # The socket is not deaf afterwards.
    sock.send_text(event("/chat", 6, "join", {"room": "lobby", "limit": 0}))
    assert (await sock.packet()).startswith("43/chat,6")


async def test_huge_ack_id_gets_chatio_error(server, token):
    sock = await RawWebSocket.open(server.url)
    await sock.connect_namespace("/chat", token("alice"))
    sock.send_text('42/chat,' + "1" * 101 + '["join",{"room":"lobby"}]')
    packet = await sock.packet()
    assert packet.startswith(f'42/chat,["{EVENT_CHATIO_ERROR}"'), packet
    assert INVALID_PAYLOAD in packet
    sock.send_text(event("/chat", 6, "join", {"room": "lobby", "limit": 0}))
    assert (await sock.packet()).startswith("43/chat,6")


async def test_unknown_namespace_is_refused_with_a_code(server, token):
    sock = await RawWebSocket.open(server.url)
    sock.send_text('40/nope,{}')
    packet = await sock.packet()
    assert packet.startswith("44/nope,")
    refusal = json.loads(packet[len("44/nope,"):])
    assert refusal["data"]["code"] == UNKNOWN_NAMESPACE
    assert refusal["message"]


async def test_hostile_packets_are_logged_once_per_connection(
        server, token, caplog):
    caplog.set_level(logging.WARNING, logger="chatio.transport")
    sock = await RawWebSocket.open(server.url)
    await sock.connect_namespace("/chat", token("mallory"))
    for n in range(500):
        sock.send_text(f'42/chat,{n}["message",{{]')
    for _ in range(500):
        assert json.loads((await sock.packet())[len("43/chat,") + 1:].lstrip(
            "0123456789"))[0]["error"]["code"] == INVALID_PAYLOAD
    warnings = [r for r in caplog.records if r.name.startswith("chatio.transport")]
    assert len(warnings) == 1
    assert warnings[0].exc_info is None
    errors = (await scrape(server.url)).value(
        "chatio_protocol_errors_total", code=INVALID_PAYLOAD)
    assert errors == 500


async def test_a_bad_event_right_behind_its_connect_is_answered(server, token):
    sock = await RawWebSocket.open(server.url)
    # Sent back to back: the event is read while the CONNECT still runs.
    sock.send_text(f'40/chat,{json.dumps({"token": token("alice")})}')
    sock.send_text('42/chat,9["message",{]')
    assert (await sock.packet()).startswith("40/chat,")
    packet = await sock.packet()
    assert packet.startswith("43/chat,9"), packet
    assert INVALID_PAYLOAD in packet


async def test_unsolicited_acks_are_dropped_quietly(server, token, caplog):
    caplog.set_level(logging.WARNING)
    sock = await RawWebSocket.open(server.url)
    await sock.connect_namespace("/chat", token("alice"))
    for n in range(50):
        sock.send_text(f'43/chat,{n}["x"]')
    sock.send_text(event("/chat", 1, "join", {"room": "lobby", "limit": 0}))
    assert (await sock.packet()).startswith("43/chat,1")
    assert not [r for r in caplog.records if "callback" in r.getMessage()]
