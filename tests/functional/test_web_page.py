"""The web page at / and its assets, beside the API and Socket.IO routes."""
from __future__ import annotations

import aiohttp

from chatio.web import STATIC_DIR


async def get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(url) as resp:
            return resp.status, dict(resp.headers), await resp.read()


async def test_root_serves_the_page_with_a_strict_policy(server):
    status, headers, body = await get(server.url + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert body == (STATIC_DIR / "index.html").read_bytes()
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


async def test_static_serves_the_bundle(server):
    for name, kind in [("app.js", "javascript"), ("app.css", "text/css")]:
        status, headers, body = await get(f"{server.url}/static/{name}")
        assert status == 200, name
        assert kind in headers["Content-Type"]
        assert body == (STATIC_DIR / name).read_bytes()


async def test_static_does_not_escape_its_directory(server):
    status, _, _ = await get(server.url + "/static/../app.py")
    assert status in (403, 404)
    status, _, _ = await get(server.url + "/static/%2e%2e/app.py")
    assert status in (403, 404)


async def test_other_routes_still_answer(server):
    for path in ("/healthz", "/readyz"):
        status, _, _ = await get(server.url + path)
        assert status == 200, path
    status, _, body = await get(server.url + "/socket.io/?EIO=4&transport=polling")
    assert status == 200
    assert body.startswith(b"0{")
