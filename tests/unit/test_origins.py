"""Which origins a request may come from: forwarded headers count only from
trusted proxies."""
from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from chatio.origins import allowed_origins, origin_allowed, request_origins
from chatio.settings import Settings

PROXIES = Settings.from_env(
    {"CHATIO_TRUSTED_PROXIES": "10.0.0.0/8"}).trusted_proxies
PROXY, CLIENT = "10.0.0.2", "203.0.113.9"


def origins(**given: Any) -> list[str] | None:
    inputs: dict[str, Any] = {
        "configured": (), "scheme": "http", "host": "chat.example",
        "forwarded_proto": None, "forwarded_host": None, "peer": CLIENT,
        "trusted": PROXIES}
    inputs.update(given)
    return allowed_origins(**inputs)


def test_unset_means_the_request_s_own_origin() -> None:
    assert origins() == ["http://chat.example"]
    assert origins(scheme="https", host="chat.example:8443") == [
        "https://chat.example:8443"]


def test_forwarded_host_from_an_untrusted_peer_is_ignored() -> None:
    allowed = origins(forwarded_host="evil.example")
    assert allowed == ["http://chat.example"]
    assert not origin_allowed("http://evil.example", allowed)


def test_forwarded_proto_from_an_untrusted_peer_is_ignored() -> None:
    assert origins(forwarded_proto="https") == ["http://chat.example"]


def test_no_proxies_configured_believes_no_one() -> None:
    assert origins(peer=PROXY, trusted=(), forwarded_host="evil.example",
                   forwarded_proto="https") == ["http://chat.example"]


def test_trusted_proxy_adds_the_forwarded_origin() -> None:
    assert origins(peer=PROXY, forwarded_proto="https") == [
        "http://chat.example", "https://chat.example"]
    assert origins(peer=PROXY, forwarded_host="public.example") == [
        "http://chat.example", "http://public.example"]
    assert origins(peer=PROXY, forwarded_proto="HTTPS",
                   forwarded_host="public.example") == [
        "http://chat.example", "https://public.example"]


def test_the_nearest_proxy_s_value_counts() -> None:
    # A client's own X-Forwarded-Host, with the proxy's appended after it.
    allowed = origins(peer=PROXY, forwarded_host="evil.example, chat.example",
                      forwarded_proto="http, https")
    assert allowed == ["http://chat.example", "https://chat.example"]


@pytest.mark.parametrize("proto", ["javascript", "", " ", "ftp", "https ,"])
def test_a_forwarded_proto_other_than_http_or_https_is_ignored(
        proto: str) -> None:
    assert origins(peer=PROXY, forwarded_proto=proto) == [
        "http://chat.example"]


def test_no_host_allows_no_browser_origin() -> None:
    assert origins(host=None) == []
    assert origins(host="", peer=PROXY, forwarded_host="chat.example") == []
    assert not origin_allowed("http://chat.example", [])


@pytest.mark.parametrize("peer", [None, "", "not-an-ip", "unix:/run/x"])
def test_a_peer_that_is_not_an_address_is_not_trusted(peer: str | None) -> None:
    assert origins(peer=peer, forwarded_host="evil.example") == [
        "http://chat.example"]


def test_configured_origins_are_the_whole_list() -> None:
    configured = ("https://app.example", "https://admin.example")
    assert origins(configured=configured) == list(configured)
    # Neither the request's own origin nor a forwarded one is added.
    assert origins(configured=configured, peer=PROXY,
                   forwarded_host="chat.example") == list(configured)


def test_a_star_allows_any_origin() -> None:
    assert origins(configured=("*",)) is None
    assert origins(configured=("https://app.example", "*")) is None
    assert origin_allowed("https://anything.example", None)


def _request(peer: str, headers: list[tuple[str, str]]):
    request = make_mocked_request("GET", "/socket.io/",
                                  headers=CIMultiDict(headers))
    return request.clone(remote=peer)


def test_request_origins_reads_an_aiohttp_request() -> None:
    headers = [("Host", "chat.example"), ("Origin", "http://evil.example"),
               ("X-Forwarded-Host", "evil.example")]
    allowed = request_origins(_request(CLIENT, headers), (), PROXIES)
    assert allowed == ["http://chat.example"]
    assert not origin_allowed("http://evil.example", allowed)


def test_request_origins_joins_repeated_headers_and_takes_the_last() -> None:
    headers = [("Host", "chat.example"),
               ("X-Forwarded-Host", "evil.example"),
               ("X-Forwarded-Host", "public.example"),
               ("X-Forwarded-Proto", "https")]
    assert request_origins(_request(PROXY, headers), (), PROXIES) == [
        "http://chat.example", "https://public.example"]
