"""Hostile input on /presence and /typing, failures without an ack, and the
namespaces a connection may (not) open.

Every hostile case runs on a socket ("mallory") whose /chat socket has joined
"lobby", so that the payload is the only thing wrong with the request. After
the hostile requests, one check proves that they changed nothing, that the
socket still works and that the server serves everyone else.
"""
from __future__ import annotations

import dataclasses
import json
import time

import pytest

from chatio.constants import (CHAT_NAMESPACE, EVENT_CHATIO_ERROR, FORBIDDEN,
                              INVALID_PAYLOAD, NOT_IN_ROOM, PRESENCE_NAMESPACE,
                              REFUSAL_MESSAGE, TOKEN_EXPIRED,
                              TYPING_NAMESPACE, UNAUTHORIZED, UNKNOWN_EVENT)
from support import UNLIMITED, assert_error, assert_ok
from support.client import check_error_object
from support.multi import (ALL_NAMESPACES, MultiClient, client_pool,
                           presence_event, typing_event)

CHAT, PRESENCE, TYPING = CHAT_NAMESPACE, PRESENCE_NAMESPACE, TYPING_NAMESPACE

EVENTS = [(PRESENCE, "subscribe"), (PRESENCE, "unsubscribe"),
          (TYPING, "subscribe"), (TYPING, "unsubscribe"), (TYPING, "typing")]


def event_id(value):
    if isinstance(value, tuple):
        return f"{value[0].strip('/')}-{value[1]}"
    return None


def valid_payload(event):
    if event == "typing":
        return {"room": "lobby", "typing": True}
    return {"room": "lobby"}


@pytest.fixture
async def device(start_server, token):
    async with client_pool(token) as pool:
        yield pool.connect


@pytest.fixture
async def server(start_server):
    return await start_server(rate_typing=UNLIMITED, presence_grace=30)


@dataclasses.dataclass
class Arena:
    server: object
    device: object
    mallory: MultiClient
    alice: MultiClient
    subscribed: bool


async def make_arena(server, device, event):
    """mallory is in "lobby" on /chat, and subscribed to it on /presence
    and /typing when the hostile event is ``unsubscribe`` (so that a bad
    unsubscribe could wrongly end it). alice watches "lobby"."""
    mallory = await device(server, "mallory", namespaces=ALL_NAMESPACES)
    await mallory.join("lobby")
    subscribed = event == "unsubscribe"
    if subscribed:
        for ns in (PRESENCE, TYPING):
            await mallory.subscribe(ns, "lobby")
    alice = await device(server, "alice", namespaces=(PRESENCE, TYPING))
    for ns in (PRESENCE, TYPING):
        await alice.subscribe(ns, "lobby")
    return Arena(server, device, mallory, alice, subscribed)


async def check_unharmed(arena, namespace, event):
    """Nothing the hostile requests did had an effect; everything works."""
    mallory, alice = arena.mallory, arena.alice
    for ns in ALL_NAMESPACES:
        assert mallory.connected(ns), f"mallory lost {ns}"
    # No typing was recorded for mallory.
    await alice.expect_nothing(TYPING, "typing")

    # Someone else's activity in the room: mallory sees it exactly when she
    # was subscribed before the hostile requests.
    bob = await arena.device(arena.server, "bob", namespaces=(CHAT, TYPING))
    await bob.join("lobby")
    assert_ok(await bob.typing("lobby", True))
    joined = presence_event("lobby", "bob", "bob", "joined")
    typing = typing_event("lobby", "bob", "bob", True)
    assert await alice.next(PRESENCE, "presence") == joined
    assert await alice.next(TYPING, "typing") == typing
    if arena.subscribed:
        assert await mallory.next(PRESENCE, "presence") == joined
        assert await mallory.next(TYPING, "typing") == typing
    await mallory.expect_nothing(PRESENCE, "presence")
    await mallory.expect_nothing(TYPING, "typing")
    await alice.expect_nothing(PRESENCE, "presence")

    # The same event, well-formed, succeeds on the same socket.
    assert_ok(await mallory.call(namespace, event, valid_payload(event)))
    if event == "typing":
        assert await alice.next(TYPING, "typing") == typing_event(
            "lobby", "mallory", "mallory", True)
    # And the node serves a newcomer.
    newcomer = await arena.device(arena.server, "carol",
                                  namespaces=(PRESENCE,))
    ack = await newcomer.subscribe(PRESENCE, "lobby")
    assert sorted(m["id"] for m in ack["members"]) == ["bob", "mallory"]


async def expect_invalid(client, namespace, event, payloads, field=None):
    """Each payload gets INVALID_PAYLOAD, naming ``field`` when given."""
    futures = [(payload, await client.request(namespace, event, payload))
               for payload in payloads]
    for payload, future in futures:
        ack = await client.ack(future)
        assert isinstance(ack, dict) and ack.get("ok") is False, \
            f"{event} {payload!r:.200} was accepted: {ack!r:.300}"
        error = assert_error(ack, INVALID_PAYLOAD)
        assert error["retryable"] is False
        assert isinstance(error.get("details"), dict) and error["details"], \
            error
        if field is not None:
            assert field in error["details"], \
                f"{payload!r:.200}: {error['details']!r:.300}"


# -- hostile payloads on every event ------------------------------------------

NON_OBJECTS = [None, 0, 5, -1, 1.5, True, False, "", "lobby", [], ["lobby"],
               [{"room": "lobby"}], [[]], '{"room": "lobby"}']

BAD_ROOMS = [None, 5, 0, 1.5, True, False, [], {}, ["lobby"],
             {"name": "lobby"}, "", "r" * 65, "r" * 20000, "the lobby",
             " lobby", "lobby\n", "\tlobby", "a/b", "a#b", "lob*", "a%20b",
             "caf\u00e9", "\u0430", "\U0001f600", "a\x00b"]

BAD_TYPING = ["true", "false", "", 1, 0, 1.0, 0.0, None, [], [True], {},
              "yes", "on"]

UNKNOWN_KEYS = ["extra", "user", "Room", "__proto__", "status", "members"]


@pytest.mark.parametrize("target", EVENTS, ids=event_id)
async def test_non_object_payloads_are_invalid(server, device, target):
    namespace, event = target
    arena = await make_arena(server, device, event)
    await expect_invalid(arena.mallory, namespace, event, NON_OBJECTS)
    await check_unharmed(arena, namespace, event)


@pytest.mark.parametrize("target", EVENTS, ids=event_id)
async def test_missing_fields_are_invalid(server, device, target):
    namespace, event = target
    arena = await make_arena(server, device, event)
    base = valid_payload(event)
    without_room = {k: v for k, v in base.items() if k != "room"}
    await expect_invalid(arena.mallory, namespace, event, [without_room],
                         "room")
    await expect_invalid(arena.mallory, namespace, event, [{}], "room")
    if event == "typing":
        await expect_invalid(arena.mallory, namespace, event,
                             [{"room": "lobby"}, {}], "typing")
    await check_unharmed(arena, namespace, event)


@pytest.mark.parametrize("target", EVENTS, ids=event_id)
async def test_bad_room_names_are_invalid(server, device, target):
    namespace, event = target
    arena = await make_arena(server, device, event)
    base = valid_payload(event)
    await expect_invalid(arena.mallory, namespace, event,
                         [{**base, "room": room} for room in BAD_ROOMS],
                         "room")
    await check_unharmed(arena, namespace, event)


@pytest.mark.parametrize("target", EVENTS, ids=event_id)
async def test_unknown_fields_are_invalid(server, device, target):
    namespace, event = target
    arena = await make_arena(server, device, event)
    base = valid_payload(event)
    for key in UNKNOWN_KEYS:
        await expect_invalid(arena.mallory, namespace, event,
                             [{**base, key: {"id": "admin"}}], key)
    await check_unharmed(arena, namespace, event)


async def test_typing_accepts_only_booleans(server, device):
    arena = await make_arena(server, device, "typing")
    await expect_invalid(
        arena.mallory, TYPING, "typing",
        [{"room": "lobby", "typing": value} for value in BAD_TYPING],
        "typing")
    await check_unharmed(arena, TYPING, "typing")


async def test_typing_cannot_claim_another_user(server, device):
    arena = await make_arena(server, device, "typing")
    await expect_invalid(arena.mallory, TYPING, "typing", [
        {"room": "lobby", "typing": True, "user": {"id": "alice",
                                                   "name": "Alice"}},
        {"room": "lobby", "typing": True, "user_id": "alice"},
        {"room": "lobby", "typing": True, "name": "Alice"},
    ])
    await check_unharmed(arena, TYPING, "typing")


@pytest.mark.parametrize("target", EVENTS, ids=event_id)
async def test_wrong_argument_counts_are_invalid(server, device, target):
    namespace, event = target
    arena = await make_arena(server, device, event)
    mallory = arena.mallory
    payload = valid_payload(event)
    for args in ((), (payload, payload), (payload, "x"), (payload, 1, 2)):
        error = assert_error(await mallory.call(namespace, event, *args),
                             INVALID_PAYLOAD)
        assert error["retryable"] is False
    await check_unharmed(arena, namespace, event)


LONE_SURROGATES = [r'{"room":"lob\ud800by"}', r'{"room":"\udfff"}',
                   r'{"room":"lobby","\ud800":1}']


@pytest.mark.parametrize("target", EVENTS, ids=event_id)
async def test_lone_surrogates_are_invalid(server, device, target):
    namespace, event = target
    arena = await make_arena(server, device, event)
    bodies = [f"[{json.dumps(event)},{payload}]"
              for payload in LONE_SURROGATES]
    if event == "typing":
        bodies = [body.replace("}]", ',"typing":true}]') for body in bodies]
    for body in bodies:
        assert_error(await arena.mallory.raw_call(namespace, body),
                     INVALID_PAYLOAD)
    await check_unharmed(arena, namespace, event)


# -- unknown, reserved and non-string event names -----------------------------

UNKNOWN_NAMES = {
    PRESENCE: ["join", "leave", "message", "history", "typing", "presence",
               "Subscribe", "subscribe ", "SUBSCRIBE", "unsubscribe\x00",
               "chatio_error", "error", "bogus", "x" * 5000,
               "\u00e9v\u00e9nement"],
    TYPING: ["join", "leave", "message", "history", "presence", "Typing",
             "typing ", "TYPING", "Subscribe", "chatio_error", "error",
             "bogus", "x" * 5000],
}

RESERVED_NAMES = ["connect", "disconnect", "*", "", "connect_error",
                  "disconnecting", "newListener", "removeListener",
                  "__disconnect_final"]

NON_STRING_NAMES = ["123", "0", "1.5", "null", "true", "false", "{}",
                    '{"name":"subscribe"}', '["subscribe"]', "[]"]


@pytest.mark.parametrize("namespace", [PRESENCE, TYPING])
async def test_unknown_event_names_are_unknown_events(server, device,
                                                      namespace):
    arena = await make_arena(server, device, "unsubscribe")
    mallory = arena.mallory
    for name in UNKNOWN_NAMES[namespace]:
        for args in (({"room": "lobby"},), (), (1, 2, 3)):
            error = assert_error(await mallory.call(namespace, name, *args),
                                 UNKNOWN_EVENT)
            assert error["retryable"] is False
    await check_unharmed(arena, namespace, "unsubscribe")


@pytest.mark.parametrize("namespace", [PRESENCE, TYPING])
async def test_reserved_event_names_are_unknown_events(server, device,
                                                       namespace):
    # mallory stays subscribed and connected after "disconnect" & co.
    arena = await make_arena(server, device, "unsubscribe")
    mallory = arena.mallory
    for name in RESERVED_NAMES:
        for payload in (',{"room":"lobby"}', ""):
            ack = await mallory.raw_call(
                namespace, f"[{json.dumps(name)}{payload}]")
            assert ack["ok"] is False, (name, ack)
            assert ack["error"]["code"] in (UNKNOWN_EVENT, INVALID_PAYLOAD)
            assert_error(ack, ack["error"]["code"])
        assert_error(await mallory.raw_call(
            namespace, f'[{json.dumps(name)},{{"room":"lobby"}}]'),
            UNKNOWN_EVENT)
    await check_unharmed(arena, namespace, "unsubscribe")


@pytest.mark.parametrize("namespace", [PRESENCE, TYPING])
async def test_non_string_event_names_are_unknown_events(server, device,
                                                         namespace):
    arena = await make_arena(server, device, "unsubscribe")
    mallory = arena.mallory
    for name in NON_STRING_NAMES:
        assert_error(await mallory.raw_call(
            namespace, f'[{name},{{"room":"lobby"}}]'), UNKNOWN_EVENT)
    ack = await mallory.raw_call(namespace, "[]")
    assert ack["ok"] is False
    assert ack["error"]["code"] in (UNKNOWN_EVENT, INVALID_PAYLOAD)
    await check_unharmed(arena, namespace, "unsubscribe")


@pytest.mark.parametrize("namespace", [PRESENCE, TYPING])
@pytest.mark.parametrize("name", ["disconnect", "connect", "*"])
async def test_reserved_names_without_an_ack_do_not_disconnect(
        server, device, namespace, name):
    arena = await make_arena(server, device, "unsubscribe")
    mallory = arena.mallory
    await mallory.raw_send(namespace,
                           f'[{json.dumps(name)},{{"room":"lobby"}}]')
    notice = await mallory.next(namespace, EVENT_CHATIO_ERROR)
    assert notice == {"event": name, "error": notice["error"]}
    assert notice["error"]["code"] == UNKNOWN_EVENT
    await check_unharmed(arena, namespace, "unsubscribe")


async def test_flood_of_hostile_packets_leaves_the_server_serving(server,
                                                                  device):
    arena = await make_arena(server, device, "unsubscribe")
    mallory = arena.mallory
    futures = []
    for namespace in (PRESENCE, TYPING):
        for name in RESERVED_NAMES + NON_STRING_NAMES:
            body = (f"[{json.dumps(name) if name in RESERVED_NAMES else name}"
                    ',{"room":"lobby"}]')
            futures.append(await mallory.raw_request(namespace, body))
        for event in ("subscribe", "unsubscribe", "typing"):
            for value in NON_OBJECTS + BAD_ROOMS[:5]:
                futures.append(await mallory.request(namespace, event, value))
    for future in futures:
        ack = await mallory.ack(future)
        assert ack["ok"] is False
        assert ack["error"]["code"] in (UNKNOWN_EVENT, INVALID_PAYLOAD)
    await check_unharmed(arena, TYPING, "typing")


# -- failures without an ack --------------------------------------------------

NO_ACK_FAILURES = [
    pytest.param(PRESENCE, "subscribe", ({"room": "secret"},), FORBIDDEN,
                 id="presence-subscribe-forbidden"),
    pytest.param(TYPING, "subscribe", ({"room": "secret"},), FORBIDDEN,
                 id="typing-subscribe-forbidden"),
    pytest.param(PRESENCE, "subscribe", ({},), INVALID_PAYLOAD,
                 id="presence-subscribe-invalid"),
    pytest.param(PRESENCE, "unsubscribe", (["lobby"],), INVALID_PAYLOAD,
                 id="presence-unsubscribe-invalid"),
    pytest.param(TYPING, "subscribe", ({"room": 5},), INVALID_PAYLOAD,
                 id="typing-subscribe-invalid"),
    pytest.param(TYPING, "unsubscribe", ({"room": "a b"},), INVALID_PAYLOAD,
                 id="typing-unsubscribe-invalid"),
    pytest.param(TYPING, "typing", ({"room": "lobby", "typing": "true"},),
                 INVALID_PAYLOAD, id="typing-typing-invalid"),
    pytest.param(TYPING, "typing", (), INVALID_PAYLOAD,
                 id="typing-typing-no-arguments"),
    pytest.param(PRESENCE, "subscribe", ({"room": "lobby"}, 2),
                 INVALID_PAYLOAD, id="presence-subscribe-two-arguments"),
    pytest.param(TYPING, "typing", ({"room": "lobby-2", "typing": True},),
                 NOT_IN_ROOM, id="typing-typing-not-in-room"),
    pytest.param(PRESENCE, "bogus", ({"room": "lobby"},), UNKNOWN_EVENT,
                 id="presence-unknown-event"),
    pytest.param(TYPING, "join", ({"room": "lobby"},), UNKNOWN_EVENT,
                 id="typing-unknown-event"),
]


@pytest.mark.parametrize("namespace, event, args, code", NO_ACK_FAILURES)
async def test_failures_without_an_ack_become_chatio_error_on_that_namespace(
        server, device, namespace, event, args, code):
    mallory = await device(server, "mallory", namespaces=ALL_NAMESPACES,
                           rooms=["lobby*"])
    await mallory.join("lobby")
    await mallory.emit(namespace, event, *args)
    notice = await mallory.next(namespace, EVENT_CHATIO_ERROR)
    assert set(notice) == {"event", "error"}, notice
    assert notice["event"] == event
    assert notice["error"]["code"] == code
    check_error_object(notice["error"])
    # Reported once, and only on the namespace of the failed event.
    for ns in ALL_NAMESPACES:
        await mallory.expect_nothing(ns, EVENT_CHATIO_ERROR)


@pytest.mark.parametrize("namespace", [PRESENCE, TYPING])
async def test_non_string_event_name_without_an_ack_reports_null_event(
        server, device, namespace):
    mallory = await device(server, "mallory", namespaces=(namespace,))
    await mallory.raw_send(namespace, '[42,{"room":"lobby"}]')
    notice = await mallory.next(namespace, EVENT_CHATIO_ERROR)
    assert notice["event"] is None
    assert notice["error"]["code"] == UNKNOWN_EVENT


@pytest.mark.parametrize("namespace", [PRESENCE, TYPING])
async def test_successful_events_without_an_ack_send_nothing_back(
        server, device, namespace):
    mallory = await device(server, "mallory", namespaces=ALL_NAMESPACES)
    await mallory.join("lobby")
    await mallory.emit(namespace, "subscribe", {"room": "lobby"})
    if namespace == TYPING:
        await mallory.emit(TYPING, "typing", {"room": "lobby", "typing": True})
    await mallory.expect_nothing(namespace, EVENT_CHATIO_ERROR)
    # The subscription took effect.
    bob = await device(server, "bob", namespaces=(CHAT, TYPING))
    await bob.join("lobby")
    assert_ok(await bob.typing("lobby", True))
    if namespace == PRESENCE:
        assert (await mallory.next(PRESENCE, "presence"))["user"]["id"] == \
            "bob"
    else:
        assert (await mallory.next(TYPING, "typing"))["user"]["id"] == "bob"


# -- namespaces and tokens ----------------------------------------------------

def check_refusal(data, code):
    assert isinstance(data, dict), data
    assert data.get("message") == REFUSAL_MESSAGE, data
    assert isinstance(data.get("data"), dict), data
    assert data["data"].get("code") == code, data


@pytest.mark.parametrize("namespace", ["/", "/nope", "/chat/x", "/Chat",
                                       "/presence/", "/typing2"])
async def test_root_and_unknown_namespaces_are_refused(server, token,
                                                       namespace):
    client = MultiClient(namespaces=(namespace,))
    refused = await client.refusal(server.url, token("alice"))
    assert set(refused) == {namespace}, refused


async def test_an_unknown_namespace_beside_known_ones_is_refused_alone(
        server, token):
    client = MultiClient(namespaces=(CHAT, "/nope", PRESENCE))
    refused = await client.refusal(server.url, token("alice"))
    assert set(refused) == {"/nope"}, refused


@pytest.mark.parametrize("namespace", [PRESENCE, TYPING])
async def test_presence_and_typing_refuse_bad_tokens(server, token,
                                                     namespace):
    cases = [
        (None, UNAUTHORIZED),
        ("not-a-token", UNAUTHORIZED),
        (token("alice").replace(".", ".x", 1), UNAUTHORIZED),
        (token("alice", exp=time.time() - 10), TOKEN_EXPIRED),
    ]
    for bad, code in cases:
        client = MultiClient(namespaces=(namespace,))
        refused = await client.refusal(server.url, bad)
        assert set(refused) == {namespace}, refused
        check_refusal(refused[namespace], code)


async def test_a_refused_client_does_not_disturb_connected_ones(server,
                                                                device):
    alice = await device(server, "alice", namespaces=(PRESENCE, TYPING))
    await alice.subscribe(PRESENCE, "lobby")
    refused = await MultiClient(namespaces=("/", PRESENCE)).refusal(
        server.url, "forged")
    assert refused
    bob = await device(server, "bob", namespaces=(CHAT,))
    await bob.join("lobby")
    assert (await alice.next(PRESENCE, "presence"))["user"]["id"] == "bob"
