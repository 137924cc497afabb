"""Property tests over every payload schema and the event dispatch.

Arbitrary JSON-like values never raise anything but ``ValidationError``;
valid payloads load to themselves (plus defaults); the error details a
client gets back stay small whatever it sent.
"""
from __future__ import annotations

import asyncio
import json
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError

from chatio import constants as c
from chatio.api import GuestRequestSchema, TokenRequestSchema
from chatio.namespaces.base import _describe
from chatio.namespaces.chat import ChatNamespace
from chatio.namespaces.presence import PresenceNamespace
from chatio.namespaces.typing_ns import TypingNamespace
from chatio.schemas import (MAX_EPOCH_CHARS, MAX_SAFE_INTEGER, DeleteSchema,
                            HistorySchema, JoinSchema, ReactSchema,
                            ReadersSchema, ReadSchema, RoomSchema,
                            TypingSchema, edit_schema, join_fast_path,
                            message_fast_path, message_schema)
from chatio.services.session import SocketSession
from chatio.tokens import Identity, TokenIssuer

MAX_CHARS = 40
SCHEMAS: dict[str, Schema] = {
    "room": RoomSchema(),
    "join": JoinSchema(),
    "history": HistorySchema(),
    "typing": TypingSchema(),
    "message": message_schema(MAX_CHARS),
    "edit": edit_schema(MAX_CHARS),
    "delete": DeleteSchema(),
    "react": ReactSchema(),
    "read": ReadSchema(),
    "readers": ReadersSchema(),
    "api-token": TokenRequestSchema(),
    "api-guest": GuestRequestSchema(),
}
# What one ``_describe`` may hold: 20 keys of at most 64 characters, each
# with a few short field messages.
MAX_DETAIL_KEYS = 20
MAX_DETAIL_KEY_CHARS = 64
MAX_DETAILS_JSON = MAX_DETAIL_KEYS * (MAX_DETAIL_KEY_CHARS * 6 + 400)

FIELD_NAMES = ["room", "seq", "emoji", "on", "since", "epoch", "limit", "before",
               "after", "text", "client_id", "typing", "sub", "name", "rooms",
               "ttl", "token"]

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.just(MAX_SAFE_INTEGER), st.just(MAX_SAFE_INTEGER + 1), st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(), st.text(alphabet=string.ascii_letters + "_.:@-", max_size=70),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text()),
                        inner, max_size=6)),
    max_leaves=30)
# Objects whose keys are mostly real field names: they reach field validation.
payload_like = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=6),
    # Many long keys: the details cap on keys and on their length.
    st.builds(lambda base, n: {f"{i}{base}": None for i in range(n)},
              st.text(min_size=64, max_size=200), st.integers(15, 80)),
)

rooms = st.from_regex(c.ROOM_NAME_PATTERN, fullmatch=True)
seqs = st.integers(0, MAX_SAFE_INTEGER)
targets = st.integers(1, MAX_SAFE_INTEGER)
EMOJI = ["\U0001F44D", "\u2764\ufe0f", "\U0001F602", "\U0001F389"]
limits = st.integers(0, c.MAX_PAGE_LIMIT)
# Trimmed, non-empty text without control characters but newline and tab.
_text_chars = st.characters(
    blacklist_categories=("Cc", "Cs"), blacklist_characters="\x85") | \
    st.sampled_from("\n\t")
texts = st.text(_text_chars, min_size=1, max_size=MAX_CHARS).map(
    str.strip).filter(bool)
client_ids = st.text(st.characters(blacklist_categories=("Cs",)),
                     min_size=1, max_size=c.CLIENT_ID_MAX_CHARS).filter(
    str.isprintable)
# Room epochs as chatio makes them, and any other string a client may send.
epochs = st.one_of(
    st.binary(min_size=8, max_size=8).map(bytes.hex),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1,
            max_size=MAX_EPOCH_CHARS).filter(str.isprintable))


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


valid_payloads: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "room": st.fixed_dictionaries({"room": rooms}),
    "join": st.fixed_dictionaries({"room": rooms}, optional={
        "since": seqs, "epoch": epochs, "limit": limits}),
    "history": st.tuples(
        st.fixed_dictionaries({"room": rooms}, optional={
            "limit": limits, "epoch": epochs}),
        st.sampled_from([None, "before", "after"]), seqs).map(
        lambda t: t[0] if t[1] is None else {**t[0], t[1]: t[2]}),
    "typing": st.fixed_dictionaries({"room": rooms, "typing": st.booleans()}),
    "message": st.fixed_dictionaries({"room": rooms, "text": texts},
                                      optional={"client_id": client_ids}),
    "edit": st.fixed_dictionaries({"room": rooms, "seq": targets, "text": texts},
                                   optional={"client_id": client_ids}),
    "delete": st.fixed_dictionaries({"room": rooms, "seq": targets},
                                     optional={"client_id": client_ids}),
    "react": st.fixed_dictionaries({"room": rooms, "seq": targets,
                                    "emoji": st.sampled_from(EMOJI),
                                    "on": st.booleans()}),
    "read": st.fixed_dictionaries({"room": rooms, "seq": seqs}),
    "readers": st.fixed_dictionaries({"room": rooms, "seq": targets}),
}
DEFAULTS = {"join": {"limit": c.DEFAULT_PAGE_LIMIT},
            "history": {"limit": c.DEFAULT_PAGE_LIMIT}}

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _check_details(details: Any) -> None:
    assert isinstance(details, dict)
    assert len(details) <= MAX_DETAIL_KEYS
    for key in details:
        assert isinstance(key, str) and len(key) <= MAX_DETAIL_KEY_CHARS
    assert len(json.dumps(details)) <= MAX_DETAILS_JSON, len(json.dumps(details))


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@FUZZ
@given(value=payload_like)
def test_any_value_loads_or_raises_validation_error(name: str, value: Any) -> None:
    schema = SCHEMAS[name]
    try:
        loaded = schema.load(value)
    except ValidationError as exc:
        assert exc.messages
        if not name.startswith("api-"):
            _check_details(_describe(exc))
    else:
        assert isinstance(loaded, dict)
        assert set(loaded) <= set(schema.fields)


@pytest.mark.parametrize("name", sorted(valid_payloads))
@FUZZ
@given(data=st.data())
def test_valid_payloads_round_trip(name: str, data: st.DataObject) -> None:
    payload = data.draw(valid_payloads[name])
    schema = SCHEMAS[name]
    # What reaches the node is the JSON text, not the Python object.
    over_the_wire = json.loads(json.dumps(payload))
    loaded = schema.load(over_the_wire)
    assert loaded == {**DEFAULTS.get(name, {}), **payload}
    assert schema.load(schema.dump(loaded)) == loaded


@pytest.mark.parametrize("name", sorted(valid_payloads))
@FUZZ
@given(data=st.data(), key=st.text(min_size=1), extra=json_values)
def test_an_unknown_key_is_always_refused(name: str, data: st.DataObject,
                                          key: str, extra: Any) -> None:
    payload = data.draw(valid_payloads[name])
    schema = SCHEMAS[name]
    if key in schema.fields:
        return
    with pytest.raises(ValidationError) as info:
        schema.load({**payload, key: extra})
    assert _describe(info.value) == {key[:64]: ["Unknown field."]}


@pytest.mark.parametrize("name", sorted(valid_payloads))
@FUZZ
@given(data=st.data(), replacement=json_values)
def test_changing_a_field_keeps_the_answer_well_formed(
        name: str, data: st.DataObject, replacement: Any) -> None:
    payload = data.draw(valid_payloads[name])
    field = data.draw(st.sampled_from(sorted(payload)))
    mutated = {**payload, field: replacement}
    try:
        loaded = SCHEMAS[name].load(mutated)
    except ValidationError as exc:
        _check_details(_describe(exc))
        assert set(_describe(exc)) <= {field, "_schema"}
    else:
        # Accepted only when the replacement is itself a valid value.
        assert loaded[field] == (replacement.strip() if field == "text"
                                 else replacement)
        assert type(loaded[field]) is type(replacement)


# -- dispatch ----------------------------------------------------------------


class _Recorder:
    """Stands in for every service: records the payloads handlers get."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        async def handler(session: SocketSession, **payload: Any) -> dict[str, Any]:
            self.calls.append((name, payload))
            return {}
        return handler


def _namespaces() -> list[tuple[Any, _Recorder]]:
    """Each namespace with the recorder standing in for its service."""
    auth = {"issuer": TokenIssuer("property-secret", 3600.0),
            "trusted_proxies": ()}
    chat, presence, typing = _Recorder(), _Recorder(), _Recorder()
    # One recorder stands in for the chat, change and read services alike.
    return [(ChatNamespace(chat, chat, chat, max_message_chars=MAX_CHARS,
                           **auth), chat),
            (PresenceNamespace(presence, **auth), presence),
            (TypingNamespace(typing, **auth), typing)]


event_names = st.one_of(
    st.sampled_from(sorted({c.EVENT_JOIN, c.EVENT_LEAVE, c.EVENT_MESSAGE,
                            c.EVENT_HISTORY, c.EVENT_SUBSCRIBE,
                            c.EVENT_UNSUBSCRIBE, c.EVENT_TYPING,
                            c.EVENT_EDIT, c.EVENT_DELETE, c.EVENT_REACT,
                            c.EVENT_READ, c.EVENT_READERS})),
    st.sampled_from(sorted(c.RESERVED_EVENTS)), st.text(max_size=20),
    json_values)


@FUZZ
@given(event=event_names, args=st.lists(payload_like, max_size=3))
def test_dispatch_answers_every_event_with_a_bounded_result(
        event: Any, args: list[Any]) -> None:
    for namespace, recorder in _namespaces():
        namespace.sessions["sid"] = SocketSession(
            "sid", Identity("alice", "Alice"), "127.0.0.1")
        result = asyncio.run(namespace.dispatch("sid", event, list(args)))
        assert isinstance(result.get("ok"), bool)
        if result["ok"]:
            # Only one payload its schema accepts reaches a handler, loaded.
            assert event in namespace.events and len(args) == 1
            [(_, payload)] = recorder.calls
            assert payload == namespace._schemas[event].load(args[0])
            continue
        assert not recorder.calls
        error = result["error"]
        assert error["code"] in (c.UNKNOWN_EVENT, c.INVALID_PAYLOAD), error
        assert error["retryable"] is False
        if "details" in error:
            _check_details(error["details"])
        assert len(json.dumps(result)) <= MAX_DETAILS_JSON + 200


# -- the message fast path -----------------------------------------------------

FAST_MESSAGE = message_fast_path(MAX_CHARS)


@FUZZ
@given(payload=st.one_of(payload_like, valid_payloads["message"],
                         valid_payloads["message"].flatmap(
                             lambda p: st.builds(
                                 lambda k, v: {**p, k: v},
                                 st.sampled_from(["room", "text", "client_id",
                                                  "extra"]), json_values))))
def test_the_message_fast_path_agrees_with_the_schema(payload: Any) -> None:
    fast = FAST_MESSAGE(payload)
    try:
        loaded = SCHEMAS["message"].load(payload)
    except ValidationError:
        assert fast is None
    else:
        assert fast is None or fast == loaded


@FUZZ
@given(payload=valid_payloads["message"])
def test_the_message_fast_path_takes_every_ordinary_payload(payload: Any) -> None:
    assert FAST_MESSAGE(payload) == SCHEMAS["message"].load(payload)


@pytest.mark.parametrize("name,fast", [("message", FAST_MESSAGE),
                                       ("join", join_fast_path)])
@FUZZ
@given(data=st.data(), extra=json_values)
def test_fast_paths_agree_with_their_schemas(name: str, fast: Any,
                                             data: st.DataObject,
                                             extra: Any) -> None:
    payload = data.draw(st.one_of(payload_like, valid_payloads[name]))
    mutated = data.draw(st.sampled_from([payload, {"extra": extra},
                                         {**payload, "since": extra}
                                         if isinstance(payload, dict) else payload,
                                         {**payload, "limit": extra}
                                         if isinstance(payload, dict) else payload,
                                         {**payload, "epoch": extra}
                                         if isinstance(payload, dict) else payload]))
    for candidate in (payload, mutated):
        got = fast(candidate)
        try:
            loaded = SCHEMAS[name].load(candidate)
        except ValidationError:
            assert got is None
        else:
            assert got is None or got == loaded


@FUZZ
@given(payload=valid_payloads["join"])
def test_the_join_fast_path_takes_every_ordinary_payload(payload: Any) -> None:
    assert join_fast_path(payload) == SCHEMAS["join"].load(payload)
