"""Connecting to /chat: where the token goes, and which tokens are refused."""
from __future__ import annotations

import time

import socketio
import pytest

from chatio.constants import (REFUSAL_MESSAGE, TOKEN_EXPIRED, UNAUTHORIZED)
from support import mint_token

TRANSPORTS = [("websocket",), ("polling",)]


def check_refusal(data: object, code: str) -> None:
    assert isinstance(data, dict), data
    assert data.get("message") == REFUSAL_MESSAGE, data
    assert isinstance(data.get("data"), dict), data
    assert data["data"].get("code") == code, data


async def whoami(client, room: str = "whoami") -> dict:
    """The user the server attributes this socket's messages to."""
    await client.join(room)
    ack = await client.send(room, "hello")
    return ack["message"]["user"]


@pytest.mark.parametrize("transports", TRANSPORTS, ids=lambda t: t[0])
@pytest.mark.parametrize("location", ["auth", "query", "header"])
async def test_token_is_accepted_in_every_location(server, clients, token,
                                                   transports, location):
    client = clients(transports)
    await client.connect(server.url, token("alice", name="Alice"),
                         location=location)
    assert client.connected
    assert await whoami(client) == {"id": "alice", "name": "Alice"}


async def test_name_defaults_to_sub(server, connect):
    client = await connect(server, "bob")
    assert await whoami(client) == {"id": "bob", "name": "bob"}


async def test_token_with_future_exp_is_accepted(server, connect):
    client = await connect(server, "carol", exp=int(time.time()) + 600)
    assert await whoami(client) == {"id": "carol", "name": "carol"}


@pytest.mark.parametrize("transports", TRANSPORTS, ids=lambda t: t[0])
async def test_missing_token_is_refused_as_unauthorized(server, clients,
                                                        transports):
    data = await clients(transports).refusal(server.url, None)
    check_refusal(data, UNAUTHORIZED)


@pytest.mark.parametrize("location", ["auth", "query", "header"])
async def test_token_expired_by_ttl_is_refused_as_token_expired(
        start_server, clients, secret, location):
    server = await start_server(token_ttl=60)
    old = mint_token(secret, "alice", issued_at=time.time() - 3600)
    data = await clients().refusal(server.url, old, location=location)
    check_refusal(data, TOKEN_EXPIRED)


async def test_short_ttl_setting_expires_tokens(start_server, clients, secret):
    server = await start_server(token_ttl=1)
    old = mint_token(secret, "alice", issued_at=time.time() - 30)
    data = await clients().refusal(server.url, old)
    check_refusal(data, TOKEN_EXPIRED)


@pytest.mark.parametrize("location", ["auth", "query", "header"])
async def test_token_expired_by_exp_is_refused_as_token_expired(
        server, clients, token, location):
    expired = token("alice", exp=int(time.time()) - 10)
    data = await clients().refusal(server.url, expired, location=location)
    check_refusal(data, TOKEN_EXPIRED)


@pytest.mark.parametrize("location", ["auth", "query", "header"])
async def test_forged_token_is_refused_as_unauthorized(server, clients,
                                                       location):
    forged = mint_token("not-the-server-secret-0123456789", "alice")
    data = await clients().refusal(server.url, forged, location=location)
    check_refusal(data, UNAUTHORIZED)


async def test_forged_expired_token_is_unauthorized_not_expired(server,
                                                                clients):
    forged = mint_token("not-the-server-secret-0123456789", "alice",
                        issued_at=time.time() - 30 * 86400)
    check_refusal(await clients().refusal(server.url, forged), UNAUTHORIZED)


async def test_token_with_wrong_salt_is_refused(server, clients, secret):
    other = mint_token(secret, "alice", salt="another-purpose")
    check_refusal(await clients().refusal(server.url, other), UNAUTHORIZED)


async def test_tampered_token_is_refused(server, clients, token):
    # The claims of another token spliced onto a valid signature.
    _, _, signature = token("alice").partition(".")
    claims = mint_token("x" * 32, "root").partition(".")[0]
    data = await clients().refusal(server.url, f"{claims}.{signature}")
    check_refusal(data, UNAUTHORIZED)


MALFORMED_TOKENS = {
    "garbage": "not-a-token",
    "empty": "",
    "dots": "...",
    "huge": "a" * 20000,
    "non-ascii": "t\u00f6k\u00e9n.abc.def",
}


@pytest.mark.parametrize("value", MALFORMED_TOKENS.values(),
                         ids=MALFORMED_TOKENS.keys())
async def test_malformed_token_string_is_refused(server, clients, value):
    data = await clients().refusal(server.url, auth={"token": value})
    check_refusal(data, UNAUTHORIZED)


@pytest.mark.parametrize("auth", [
    {}, {"token": None}, {"token": 123}, {"token": ["a"]},
    {"token": {"sub": "alice"}}, {"tok": "x"}, "just-a-string", [1, 2],
], ids=["empty", "null", "number", "list", "object", "other-key", "string",
        "array"])
async def test_malformed_auth_payload_is_refused(server, clients, auth):
    data = await clients().refusal(server.url, auth=auth)
    check_refusal(data, UNAUTHORIZED)


@pytest.mark.parametrize("claims", [
    {}, {"name": "Alice"}, {"sub": 42}, {"sub": ""}, {"sub": None},
    {"sub": ["alice"]}, {"sub": "alice", "rooms": "lobby"},
    {"sub": "alice", "rooms": [1, 2]}, {"sub": "alice", "exp": "soon"},
    ["alice"], "alice", 7,
], ids=["no-sub", "name-only", "sub-number", "sub-empty", "sub-null",
        "sub-list", "rooms-string", "rooms-numbers", "exp-string",
        "claims-list", "claims-string", "claims-number"])
async def test_validly_signed_malformed_claims_are_refused(server, clients,
                                                           secret, claims):
    data = await clients().refusal(server.url,
                                   mint_token(secret, claims=claims))
    check_refusal(data, UNAUTHORIZED)


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Basic abc", "bearer-less", "Token abc",
])
async def test_malformed_authorization_header_is_refused(server, clients,
                                                         header):
    data = await clients().refusal(server.url,
                                   headers={"Authorization": header})
    check_refusal(data, UNAUTHORIZED)


async def test_refused_client_does_not_disturb_connected_ones(server, connect,
                                                              clients):
    alice = await connect(server, "alice")
    await alice.join("lobby")
    check_refusal(await clients().refusal(server.url, "bad"), UNAUTHORIZED)
    ack = await alice.send("lobby", "still here")
    assert ack["message"]["text"] == "still here"


async def test_root_namespace_is_refused(server) -> None:
    client = socketio.AsyncClient(reconnection=False)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.url, namespaces=["/"], wait_timeout=5)
    finally:
        await client.eio.disconnect(abort=True)


# -- which token counts when several are presented ----------------------------
# The first location that is present is the token: the auth payload when it
# has a "token" key, else the ?token= parameter when the query has one, else
# an Authorization: Bearer header. A bad value there is refused; the node
# never falls through to a later location.

def _via(server_url: str, query: str = "") -> str:
    return f"{server_url}?{query}" if query else server_url


@pytest.mark.parametrize("others", [
    {"query": "ada"}, {"header": "ada"}, {"query": "ada", "header": "ada"},
], ids=["query", "header", "both"])
async def test_auth_token_wins_over_query_and_header(server, clients, token,
                                                     others):
    client = clients()
    query = f"token={token(others['query'])}" if "query" in others else ""
    headers = ({"Authorization": f"Bearer {token(others['header'])}"}
               if "header" in others else None)
    await client.connect(_via(server.url, query), auth={"token": token("bob")},
                         headers=headers)
    assert (await whoami(client))["id"] == "bob"


async def test_query_token_wins_over_the_header(server, clients, token):
    client = clients()
    await client.connect(server.url, token("bob"), location="query",
                         headers={"Authorization": f"Bearer {token('ada')}"})
    assert (await whoami(client))["id"] == "bob"


@pytest.mark.parametrize("transports", TRANSPORTS, ids=lambda t: t[0])
@pytest.mark.parametrize("value", [5, None, "", ["t"], {"t": 1}, True],
                         ids=["number", "null", "empty", "list", "object",
                              "boolean"])
@pytest.mark.parametrize("fallback", ["query", "header"])
async def test_bad_auth_token_is_refused_even_with_a_valid_fallback(
        server, clients, token, transports, value, fallback):
    valid = token("bob")
    kwargs: dict = {"auth": {"token": value}}
    url = server.url
    if fallback == "query":
        url = _via(server.url, f"token={valid}")
    else:
        kwargs["headers"] = {"Authorization": f"Bearer {valid}"}
    data = await clients(transports).refusal(url, **kwargs)
    check_refusal(data, UNAUTHORIZED)


@pytest.mark.parametrize("query", ["token=", "token",
                                   "token={valid}&token={valid}"],
                         ids=["empty", "bare", "repeated"])
async def test_bad_query_token_is_refused_even_with_a_valid_header(
        server, clients, token, query):
    valid = token("bob")
    data = await clients().refusal(
        _via(server.url, query.format(valid=valid)),
        headers={"Authorization": f"Bearer {valid}"})
    check_refusal(data, UNAUTHORIZED)


@pytest.mark.parametrize("auth", [{}, {"tok": "x"}, "a-string", [1]],
                         ids=["empty", "other-key", "string", "array"])
@pytest.mark.parametrize("location", ["query", "header"])
async def test_auth_without_a_token_key_falls_through(server, clients, token,
                                                      auth, location):
    client = clients()
    valid = token("bob")
    if location == "query":
        await client.connect(_via(server.url, f"token={valid}"), auth=auth)
    else:
        await client.connect(server.url, auth=auth,
                             headers={"Authorization": f"Bearer {valid}"})
    assert (await whoami(client))["id"] == "bob"


async def test_other_authorization_schemes_are_no_token(server, clients,
                                                        token):
    data = await clients().refusal(
        server.url, headers={"Authorization": f"Basic {token('bob')}"})
    check_refusal(data, UNAUTHORIZED)
