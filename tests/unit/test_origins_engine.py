"""``request_origins`` as python-engineio's ``_cors_allowed_origins``: the
origin check and the CORS headers of a real engine.io server over aiohttp
follow it."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import engineio
from aiohttp import web

from chatio.origins import request_origins
from chatio.settings import Network, Settings

LOCAL = Settings.from_env({"CHATIO_TRUSTED_PROXIES": "127.0.0.1"}).trusted_proxies
HANDSHAKE = "/engine.io/?EIO=4&transport=polling"


class Engine(engineio.AsyncServer):
    def __init__(self, configured: Sequence[str],
                 trusted: Sequence[Network]) -> None:
        super().__init__(async_mode="aiohttp")
        self._configured, self._trusted = tuple(configured), tuple(trusted)

    def _cors_allowed_origins(self, environ: dict[str, Any]) -> Any:
        return request_origins(environ["aiohttp.request"], self._configured,
                               self._trusted)


@contextlib.asynccontextmanager
async def engine(configured: Sequence[str] = (),
                 trusted: Sequence[Network] = ()) -> AsyncIterator[str]:
    app = web.Application()
    Engine(configured, trusted).attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def handshake(url: str, **headers: str) -> tuple[int, str | None]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url + HANDSHAKE, headers=headers) as resp:
            await resp.read()
            return resp.status, resp.headers.get("Access-Control-Allow-Origin")


async def test_forwarded_host_of_an_untrusted_peer_is_refused() -> None:
    async with engine() as url:
        assert await handshake(url, Origin=url) == (200, url)
        assert await handshake(url, Origin="http://evil.example",
                               **{"X-Forwarded-Host": "evil.example"}) == (
            400, None)
        assert (await handshake(url, Origin=url.replace("http:", "https:"),
                                **{"X-Forwarded-Proto": "https"}))[0] == 400


async def test_forwarded_origin_of_a_trusted_proxy_is_allowed() -> None:
    async with engine(trusted=LOCAL) as url:
        public = "https://chat.example"
        assert await handshake(url, Origin=public,
                               **{"X-Forwarded-Proto": "https",
                                  "X-Forwarded-Host": "chat.example"}) == (
            200, public)


async def test_configured_origins_replace_the_same_origin_rule() -> None:
    async with engine(configured=("https://app.example",)) as url:
        assert await handshake(url, Origin="https://app.example") == (
            200, "https://app.example")
        assert (await handshake(url, Origin=url))[0] == 400
