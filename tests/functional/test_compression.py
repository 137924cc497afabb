"""permessage-deflate is negotiated only when CHATIO_WS_COMPRESSION is on."""
from __future__ import annotations

import aiohttp
import pytest

from support import assert_ok

WS_PATH = "/socket.io/?EIO=4&transport=websocket"


async def handshake(url: str) -> tuple[int, str | None, str]:
    """Open a raw WebSocket that offers permessage-deflate; return the
    negotiated compression, the response's extension header and the first
    engine.io packet."""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url + WS_PATH, compress=15,
                                      timeout=aiohttp.ClientWSTimeout(
                                          ws_close=5)) as ws:
            extensions = ws._response.headers.get("Sec-WebSocket-Extensions")
            first = await ws.receive(timeout=10)
            return ws.compress, extensions, first.data


async def test_compression_is_off_by_default(start_server):
    server = await start_server()
    assert server.settings.ws_compression is False
    compress, extensions, first = await handshake(server.url)
    assert compress == 0
    assert not extensions or "permessage-deflate" not in extensions
    assert first.startswith("0{"), "the engine.io handshake still works"


async def test_compression_is_negotiated_when_enabled(start_server):
    server = await start_server(ws_compression=True)
    compress, extensions, first = await handshake(server.url)
    assert compress > 0
    assert extensions and "permessage-deflate" in extensions
    assert first.startswith("0{")


@pytest.mark.parametrize("enabled", [False, True])
async def test_chat_works_with_and_without_compression(start_server, connect,
                                                       enabled):
    server = await start_server(ws_compression=enabled)
    alice = await connect(server, "alice")
    bob = await connect(server, "bob")
    await alice.join("lobby")
    await bob.join("lobby")
    ack = assert_ok(await alice.call("message",
                                     {"room": "lobby", "text": "z" * 1500}))
    assert await bob.next("message") == ack["message"]
