"""The recovery offset on /chat messages, as python-socketio's own client
sees it: a second argument by default, none with ``offsets: false``."""
from __future__ import annotations

import asyncio

import socketio

from chatio.constants import CHAT_NAMESPACE

TIMEOUT = 5.0


async def _client(url: str, auth: dict) -> tuple[socketio.AsyncClient,
                                                 asyncio.Queue]:
    sio = socketio.AsyncClient(reconnection=False)
    received: asyncio.Queue = asyncio.Queue()

    async def on_message(*args):
        received.put_nowait(args)
    sio.on("message", on_message, namespace=CHAT_NAMESPACE)
    await sio.connect(url, namespaces=[CHAT_NAMESPACE], auth=auth,
                      transports=["websocket"], wait_timeout=TIMEOUT)
    ack = await sio.call("join", {"room": "lobby"}, namespace=CHAT_NAMESPACE,
                         timeout=TIMEOUT)
    assert ack["ok"], ack
    return sio, received


async def test_messages_carry_an_offset_unless_the_client_opts_out(
        server, token):
    plain, plain_got = await _client(server.url, {
        "token": token("plain"), "offsets": False})
    default, default_got = await _client(server.url, {"token": token("dflt")})
    sender, _ = await _client(server.url, {"token": token("sender")})
    try:
        for text in ("one", "two"):
            ack = await sender.call("message", {"room": "lobby", "text": text},
                                    namespace=CHAT_NAMESPACE, timeout=TIMEOUT)
            assert ack["ok"], ack
        for _ in range(2):
            (message,) = await asyncio.wait_for(plain_got.get(), TIMEOUT)
            message_too, offset = await asyncio.wait_for(default_got.get(),
                                                         TIMEOUT)
            assert message == message_too
            assert isinstance(offset, str) and offset
    finally:
        for sio in (plain, default, sender):
            await sio.disconnect()
