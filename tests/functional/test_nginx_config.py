"""The rendered nginx configuration as nginx itself reads it: ``nginx -t`` on
every variant, and the TLS variant serving a chatio node with a self-signed
certificate."""
from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from support import ChatioProcess
from support.js_sessions import js_session, run_sessions
from support.nginx import NginxProcess, require_nginx, self_signed_certificate

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)
NODES = ("127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003")


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path / "tls")


@pytest.mark.parametrize("variant", ["plain", "tls", "round-robin"])
def test_nginx_accepts_the_rendered_configuration(
        tmp_path: Path, certificate: tuple[Path, Path], variant: str) -> None:
    require_nginx()
    proxy = NginxProcess(
        tmp_path / "nginx", NODES,
        tls=certificate if variant == "tls" else None,
        balance="round-robin" if variant == "round-robin" else "hash")

    result = proxy.test_config()

    assert result.returncode == 0, result.stderr + "\n" + proxy.logs()
    assert "test is successful" in result.stderr


def test_nginx_refuses_a_missing_certificate(tmp_path: Path) -> None:
    # The check above would pass vacuously if nginx never read the TLS part.
    require_nginx()
    proxy = NginxProcess(tmp_path / "nginx", NODES,
                         tls=(tmp_path / "none.pem", tmp_path / "none.key"))

    result = proxy.test_config()

    assert result.returncode != 0
    assert "none.pem" in result.stderr


@pytest.fixture
async def tls_proxy(tmp_path: Path, secret: str,
                    certificate: tuple[Path, Path]
                    ) -> AsyncIterator[NginxProcess]:
    require_nginx()
    node = ChatioProcess({"CHATIO_SECRET": secret,
                          "CHATIO_DATA_DIR": str(tmp_path / "node" / "data"),
                          "CHATIO_TRUSTED_PROXIES": "127.0.0.1"},
                         tmp_path / "node" / "logs")
    await node.start()
    try:
        with NginxProcess(tmp_path / "nginx", [f"{node.host}:{node.port}"],
                          tls=certificate) as proxy:
            yield proxy
    finally:
        node.kill()


def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


async def test_tls_site_serves_with_hsts_and_security_headers(
        tls_proxy: NginxProcess, certificate: tuple[Path, Path]) -> None:
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        async with http.get(f"{tls_proxy.url}/healthz",
                            ssl=client_tls(certificate)) as resp:
            assert resp.status == 200
            assert await resp.json() == {"ok": True}
            headers = resp.headers
    with socket.create_connection(("127.0.0.1", tls_proxy.port), 5) as raw, \
            client_tls(certificate).wrap_socket(
                raw, server_hostname="localhost") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert headers["Strict-Transport-Security"] == "max-age=63072000"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "frame-ancestors 'none'"


async def test_plain_http_is_redirected_to_https(
        tls_proxy: NginxProcess) -> None:
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        async with http.get(f"{tls_proxy.redirect_url}/api/guest?x=1",
                            allow_redirects=False) as resp:
            assert resp.status == 301
            assert resp.headers["Location"] == \
                f"https://127.0.0.1:{tls_proxy.port}/api/guest?x=1"


async def test_same_origin_check_sees_the_public_https_origin(
        tls_proxy: NginxProcess, certificate: tuple[Path, Path]) -> None:
    # Host and X-Forwarded-Proto from nginx let the node compare a browser's
    # Origin with the address the browser used.
    handshake = f"{tls_proxy.url}/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        async with http.get(handshake, ssl=client_tls(certificate),
                            headers={"Origin": tls_proxy.url}) as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(handshake, ssl=client_tls(certificate),
                            headers={"Origin": "https://evil.example"}) as resp:
            assert resp.status == 400
        # A client's own X-Forwarded-Host does not get past nginx.
        async with http.get(handshake, ssl=client_tls(certificate),
                            headers={"Origin": "https://evil.example",
                                     "X-Forwarded-Host": "evil.example"}
                            ) as resp:
            assert resp.status == 400
            assert "Access-Control-Allow-Origin" not in resp.headers


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_sessions_complete_over_tls(
        tls_proxy: NginxProcess, secret: str, transport: str) -> None:
    [report] = await run_sessions(
        tls_proxy.url, [js_session(secret, "127.0.0.9", transport)])

    assert report.ok, f"{report}\n{tls_proxy.access_log()}"
    assert report.transport == transport
