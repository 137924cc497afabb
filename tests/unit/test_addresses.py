from aiohttp.test_utils import make_mocked_request

from chatio.addresses import client_address
from chatio.settings import Settings


def _request(peer: str, forwarded: str | None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    request = make_mocked_request("GET", "/", headers=headers)
    return request.clone(remote=peer)


PROXIES = Settings.from_env({"CHATIO_TRUSTED_PROXIES": "10.0.0.0/8"}).trusted_proxies


def test_untrusted_peer_is_the_client() -> None:
    assert client_address(_request("203.0.113.9", "1.2.3.4"), PROXIES) == "203.0.113.9"


def test_trusted_proxy_forwards_the_nearest_untrusted_hop() -> None:
    request = _request("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.9")
    assert client_address(request, PROXIES) == "198.51.100.7"


def test_garbage_forwarded_header_falls_back_to_peer() -> None:
    assert client_address(_request("10.0.0.2", "not-an-ip"), PROXIES) == "10.0.0.2"
