"""The Socket.IO endpoint's origin check on a real node: same origin by
default, and forwarded headers only from trusted proxies."""
from __future__ import annotations

import aiohttp

from chatio.settings import Settings

LOCAL_PROXY = Settings.from_env(
    {"CHATIO_TRUSTED_PROXIES": "127.0.0.1"}).trusted_proxies
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


async def handshake(url: str, **headers: str) -> tuple[int, str | None]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url + HANDSHAKE, headers=headers) as resp:
            await resp.read()
            return resp.status, resp.headers.get("Access-Control-Allow-Origin")


async def test_same_origin_is_allowed_and_another_is_not(server) -> None:
    assert await handshake(server.url, Origin=server.url) == (200, server.url)
    assert await handshake(server.url, Origin="http://evil.example") == (
        400, None)


async def test_forwarded_host_from_an_untrusted_peer_is_not_believed(
        server) -> None:
    status, allowed = await handshake(
        server.url, Origin="http://evil.example",
        **{"X-Forwarded-Host": "evil.example"})
    assert allowed is None
    assert status == 400


async def test_trusted_proxy_forwards_the_public_origin(start_server) -> None:
    server = await start_server(trusted_proxies=LOCAL_PROXY)
    public = "https://chat.example"
    assert await handshake(server.url, Origin=public,
                           **{"X-Forwarded-Proto": "https",
                              "X-Forwarded-Host": "chat.example"}) == (
        200, public)

