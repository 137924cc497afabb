"""HTTP routes: /healthz, /readyz, POST /api/tokens and POST /api/guest."""
from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any

import aiohttp
import pytest

from chatio.constants import (FORBIDDEN, GUEST_PREFIX, INVALID_PAYLOAD,
                              TOKEN_EXPIRED)
from chatio.settings import Rate
from support import BACKENDS, assert_error, mint_token
from support.tokens import load_token

API_KEY = "test-api-key-0123456789"
DAY = 86400


async def request(method: str, url: str, *, json: Any = None,
                  data: Any = None, headers: dict | None = None
                  ) -> tuple[int, Any]:
    """One HTTP request; returns the status and the JSON body (or text)."""
    async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.request(method, url, json=json, data=data,
                                   headers=headers) as resp:
            try:
                body = await resp.json(content_type=None)
            except ValueError:
                body = await resp.text()
            return resp.status, body


def bearer(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def whoami(clients, server, token: str) -> dict:
    client = clients()
    await client.connect(server.url, token)
    await client.join("whoami")
    return (await client.send("whoami", "hi"))["message"]["user"]


# -- health -------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
async def test_healthz_and_readyz_answer_200(server, backend):
    status, _ = await request("GET", server.url + "/healthz")
    assert status == 200
    status, _ = await request("GET", server.url + "/readyz")
    assert status == 200


# -- POST /api/tokens -----------------------------------------------------------


async def test_tokens_route_is_404_without_an_api_key(server):
    assert server.settings.api_key is None
    status, _ = await request("POST", server.url + "/api/tokens",
                              json={"sub": "alice"}, headers=bearer())
    assert status == 404


@pytest.mark.parametrize("headers", [
    None, {"Authorization": "Bearer wrong-key"},
    {"Authorization": f"Bearer {API_KEY}x"},
    {"Authorization": f"Bearer {API_KEY[:-1]}"},
    {"Authorization": f"Basic {API_KEY}"}, {"Authorization": API_KEY},
    {"Authorization": "Bearer "}, {"X-Api-Key": API_KEY},
], ids=["none", "wrong", "longer", "shorter", "basic", "bare", "empty",
        "other-header"])
async def test_tokens_route_refuses_a_missing_or_wrong_key(start_server,
                                                           headers):
    server = await start_server(api_key=API_KEY)
    status, _ = await request("POST", server.url + "/api/tokens",
                              json={"sub": "alice"}, headers=headers)
    assert status == 401


async def test_tokens_route_mints_a_token_that_connects(start_server, clients,
                                                        secret):
    server = await start_server(api_key=API_KEY)
    status, body = await request(
        "POST", server.url + "/api/tokens", headers=bearer(),
        json={"sub": "alice", "name": "Alice", "rooms": ["team-*"],
              "ttl": 600})
    assert status == 200, body
    assert set(body) == {"token", "expires_in"}
    assert type(body["expires_in"]) is int and 0 < body["expires_in"] <= 600
    claims = load_token(secret, body["token"])
    assert claims["sub"] == "alice"
    assert claims["name"] == "Alice"
    assert claims["rooms"] == ["team-*"]
    assert time.time() < claims["exp"] <= time.time() + 601

    client = clients()
    await client.connect(server.url, body["token"])
    await client.join("team-red")
    ack = await client.send("team-red", "hi")
    assert ack["message"]["user"] == {"id": "alice", "name": "Alice"}
    assert_error(await client.call("join", {"room": "lobby"}), FORBIDDEN)


async def test_tokens_route_defaults(start_server, clients):
    server = await start_server(api_key=API_KEY, token_ttl=900)
    status, body = await request("POST", server.url + "/api/tokens",
                                 headers=bearer(), json={"sub": "bob"})
    assert status == 200, body
    assert 0 < body["expires_in"] <= 900
    assert await whoami(clients, server, body["token"]) == \
        {"id": "bob", "name": "bob"}


@pytest.mark.parametrize("body", [
    {}, {"name": "Alice"}, {"sub": ""}, {"sub": 42}, {"sub": None},
    {"sub": ["alice"]}, {"sub": "guest-123"}, {"sub": "guest-"},
    {"sub": "alice", "rooms": "team-*"}, {"sub": "alice", "rooms": [1]},
    {"sub": "alice", "ttl": -5}, {"sub": "alice", "ttl": "600"},
    {"sub": "alice", "name": 5}, ["alice"], "alice", None,
], ids=["empty", "no-sub", "sub-empty", "sub-int", "sub-null", "sub-list",
        "guest-id", "guest-prefix", "rooms-string", "rooms-ints",
        "ttl-negative", "ttl-string", "name-int", "list", "string", "null"])
async def test_tokens_route_rejects_a_bad_body(start_server, body):
    server = await start_server(api_key=API_KEY)
    status, _ = await request("POST", server.url + "/api/tokens",
                              headers=bearer(), json=body)
    assert status == 400


@pytest.mark.parametrize("data", [b"", b"{not json", b"\xff\xfe"],
                         ids=["empty", "broken", "not-utf8"])
async def test_tokens_route_rejects_a_body_that_is_not_json(start_server,
                                                            data):
    server = await start_server(api_key=API_KEY)
    status, _ = await request(
        "POST", server.url + "/api/tokens", data=data,
        headers={**bearer(), "Content-Type": "application/json"})
    assert status == 400


async def test_tokens_route_checks_the_key_before_the_body(start_server):
    server = await start_server(api_key=API_KEY)
    status, _ = await request("POST", server.url + "/api/tokens",
                              data=b"{not json",
                              headers={"Authorization": "Bearer nope"})
    assert status == 401


# -- POST /api/guest ------------------------------------------------------------


async def test_guest_route_is_404_when_guest_login_is_off(server):
    assert server.settings.guest_login is False
    status, _ = await request("POST", server.url + "/api/guest",
                              json={"name": "Ann"})
    assert status == 404


async def test_guest_login_returns_a_working_guest_token(start_server,
                                                         clients):
    server = await start_server(guest_login=True)
    status, body = await request("POST", server.url + "/api/guest",
                                 json={"name": "Ann"})
    assert status == 200, body
    assert set(body) == {"token", "expires_in", "user"}
    user = body["user"]
    assert user["name"] == "Ann"
    assert user["id"].startswith(GUEST_PREFIX) and len(user["id"]) > 6
    assert type(body["expires_in"]) is int and body["expires_in"] > 0
    assert await whoami(clients, server, body["token"]) == user


async def test_each_guest_gets_a_fresh_id(start_server):
    server = await start_server(guest_login=True)
    ids = set()
    for _ in range(3):
        status, body = await request("POST", server.url + "/api/guest",
                                     json={"name": "Ann"})
        assert status == 200
        ids.add(body["user"]["id"])
    assert len(ids) == 3


@pytest.mark.parametrize("body", [
    {}, {"name": ""}, {"name": 5}, {"name": None}, {"name": ["Ann"]},
    {"name": "x" * 5000}, ["Ann"], "Ann", {"name": "Ann", "token": 5},
], ids=["empty", "name-empty", "name-int", "name-null", "name-list",
        "name-huge", "list", "string", "token-int"])
async def test_guest_login_rejects_a_bad_body(start_server, body):
    server = await start_server(guest_login=True)
    status, _ = await request("POST", server.url + "/api/guest", json=body)
    assert status == 400


async def test_guest_renewal_keeps_the_id(start_server, clients):
    server = await start_server(guest_login=True)
    _, first = await request("POST", server.url + "/api/guest",
                             json={"name": "Ann"})
    status, renewed = await request(
        "POST", server.url + "/api/guest",
        json={"name": "Ann", "token": first["token"]})
    assert status == 200, renewed
    assert renewed["user"]["id"] == first["user"]["id"]
    assert await whoami(clients, server, renewed["token"]) == renewed["user"]


@pytest.mark.parametrize("age", [2 * 3600, 3 * DAY, 6 * DAY],
                         ids=["2h", "3d", "6d"])
async def test_guest_token_expired_by_ttl_within_7_days_is_renewed(
        start_server, clients, secret, age):
    server = await start_server(guest_login=True, token_ttl=3600)
    old = mint_token(secret, "guest-abc123", name="Ann",
                     issued_at=time.time() - age)
    refused = await clients().refusal(server.url, old)
    assert refused["data"]["code"] == TOKEN_EXPIRED
    status, body = await request("POST", server.url + "/api/guest",
                                 json={"name": "Ann", "token": old})
    assert status == 200, body
    assert body["user"]["id"] == "guest-abc123"
    assert (await whoami(clients, server, body["token"]))["id"] == \
        "guest-abc123"


async def test_guest_token_expired_by_exp_within_7_days_is_renewed(
        start_server, secret):
    server = await start_server(guest_login=True)
    old = mint_token(secret, "guest-xyz", name="Ann",
                     exp=int(time.time()) - 2 * DAY)
    status, body = await request("POST", server.url + "/api/guest",
                                 json={"name": "Ann", "token": old})
    assert status == 200, body
    assert body["user"]["id"] == "guest-xyz"


async def assert_not_renewed(server, token: str, old_id: str) -> None:
    status, body = await request("POST", server.url + "/api/guest",
                                 json={"name": "Ann", "token": token})
    if status == 200:
        assert body["user"]["id"] != old_id, "renewed a token it must not"
    else:
        assert status in (400, 401), (status, body)


async def test_guest_token_expired_over_7_days_ago_is_not_renewed(
        start_server, secret):
    server = await start_server(guest_login=True, token_ttl=3600)
    by_ttl = mint_token(secret, "guest-old", issued_at=time.time() - 9 * DAY)
    await assert_not_renewed(server, by_ttl, "guest-old")
    by_exp = mint_token(secret, "guest-old", exp=int(time.time()) - 8 * DAY)
    await assert_not_renewed(server, by_exp, "guest-old")


@pytest.mark.parametrize("kind", ["non-guest", "forged", "garbage",
                                  "wrong-salt"])
async def test_guest_renewal_refuses_other_tokens(start_server, secret,
                                                  kind):
    server = await start_server(guest_login=True)
    token = {
        "non-guest": mint_token(secret, "alice"),
        "forged": mint_token("another-secret-0123456789abcdef",
                             "guest-abc"),
        "garbage": "not.a.token",
        "wrong-salt": mint_token(secret, "guest-abc", salt="other"),
    }[kind]
    status, _ = await request("POST", server.url + "/api/guest",
                              json={"name": "Ann", "token": token})
    assert status in (400, 401)


async def test_guest_route_is_rate_limited_per_client_address(start_server):
    server = await start_server(guest_login=True,
                                rate_guest=Rate(0.01, 2))
    for _ in range(2):
        status, _ = await request("POST", server.url + "/api/guest",
                                  json={"name": "Ann"})
        assert status == 200
    status, _ = await request("POST", server.url + "/api/guest",
                              json={"name": "Ann"})
    assert status == 429
    # An untrusted peer cannot pick its address with X-Forwarded-For.
    status, _ = await request("POST", server.url + "/api/guest",
                              json={"name": "Ann"},
                              headers={"X-Forwarded-For": "203.0.113.9"})
    assert status == 429


async def test_guest_rate_limit_uses_forwarded_address_of_trusted_proxy(
        start_server):
    server = await start_server(
        guest_login=True, rate_guest=Rate(0.01, 2),
        trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))

    async def post(address: str) -> int:
        status, _ = await request("POST", server.url + "/api/guest",
                                  json={"name": "Ann"},
                                  headers={"X-Forwarded-For": address})
        return status

    assert [await post("198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert await post("198.51.100.2") == 200


# -- guest login from a browser on another site ----------------------------------

LOCAL_PROXY = (ipaddress.ip_network("127.0.0.1/32"),)
BODY = '{"name": "Ann"}'


async def guest(server, *, content_type: str | None = "application/json",
                **headers: str) -> tuple[int, Any]:
    """POST a JSON body with this Content-Type (None: no such header)."""
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.post(server.url + "/api/guest",
                                data=BODY.encode(), headers=headers,
                                skip_auto_headers=("Content-Type",)) as resp:
            try:
                return resp.status, await resp.json(content_type=None)
            except ValueError:
                return resp.status, await resp.text()


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/jsonx", "", None,
], ids=["text", "text-charset", "form", "multipart", "jsonx", "empty",
        "none"])
async def test_guest_login_needs_a_json_content_type(start_server,
                                                     content_type):
    server = await start_server(guest_login=True, rate_guest=Rate(0.01, 1))
    for _ in range(3):
        status, body = await guest(server, content_type=content_type)
        assert status == 415, body
        error = assert_error(body, INVALID_PAYLOAD)
        assert "application/json" in error["message"]
    # Refused before the rate limit: the one guest login left still works.
    status, body = await guest(server)
    assert status == 200, body


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "Application/JSON",
])
async def test_guest_login_accepts_json_with_parameters(start_server,
                                                        content_type):
    server = await start_server(guest_login=True)
    status, body = await guest(server, content_type=content_type)
    assert status == 200, body


@pytest.mark.parametrize("origin", [
    "http://evil.example", "null", "http://127.0.0.1", "https://127.0.0.1",
])
async def test_guest_login_refuses_a_cross_origin_browser(start_server,
                                                          origin):
    server = await start_server(guest_login=True, rate_guest=Rate(0.01, 1))
    for content_type in ("application/json", "text/plain"):
        status, body = await guest(server, content_type=content_type,
                                   Origin=origin)
        assert status == 403, body
        assert_error(body, FORBIDDEN)
    status, body = await guest(server)
    assert status == 200, body


async def test_guest_login_allows_its_own_and_configured_origins(
        start_server):
    server = await start_server(guest_login=True)
    assert (await guest(server, Origin=server.url))[0] == 200
    listed = await start_server(guest_login=True,
                                cors_origins=("https://app.example",))
    assert (await guest(listed, Origin="https://app.example"))[0] == 200
    # The list replaces the same-origin rule, as for Socket.IO.
    assert (await guest(listed, Origin=listed.url))[0] == 403
    anyone = await start_server(guest_login=True, cors_origins=("*",))
    assert (await guest(anyone, Origin="http://evil.example"))[0] == 200


async def test_guest_login_believes_forwarded_origins_from_trusted_proxies(
        start_server):
    forwarded = {"Origin": "https://chat.example",
                 "X-Forwarded-Proto": "https",
                 "X-Forwarded-Host": "chat.example"}
    untrusted = await start_server(guest_login=True)
    assert (await guest(untrusted, **forwarded))[0] == 403
    behind = await start_server(guest_login=True, trusted_proxies=LOCAL_PROXY)
    assert (await guest(behind, **forwarded))[0] == 200
    assert (await guest(behind, Origin="http://evil.example",
                        **{"X-Forwarded-Host": "chat.example"}))[0] == 403


async def test_a_flood_of_cross_site_guest_logins_logs_one_line_per_kind(
        start_server, caplog):
    server = await start_server(guest_login=True)
    caplog.set_level(logging.INFO, logger="chatio.api")
    for _ in range(20):
        assert (await guest(server, Origin="http://evil.example"))[0] == 403
        assert (await guest(server, content_type="text/plain"))[0] == 415
    lines = [r for r in caplog.records if r.name == "chatio.api"]
    assert [r.fields["key"] for r in lines] == ["guest-origin",
                                                "guest-content-type"]
    assert all(r.levelno == logging.WARNING and r.exc_info is None
               for r in lines)
    assert lines[0].fields["origin"] == "http://evil.example"


async def test_token_the_issuer_refuses_is_a_400_not_a_500(start_server) -> None:
    server = await start_server(api_key="k" * 24)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/api/tokens",
                             headers={"Authorization": "Bearer " + "k" * 24},
                             json={"sub": "ok", "rooms": ["bad\x01pattern"]}) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["code"] == "INVALID_PAYLOAD"
        async with http.post(f"{server.url}/api/tokens",
                             headers={"Authorization": "Bearer " + "k" * 24},
                             json={"sub": "u" * 100}) as resp:
            assert resp.status == 200
