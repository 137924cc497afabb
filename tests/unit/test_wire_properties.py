"""Property tests of the Socket.IO packet decoder, ``chatio.transport.wire``.

Whatever text a client sends, ``decode`` returns a bounded ``Packet`` or
raises ``ProtocolError``, nothing else; binary packets, long ack ids and
deep JSON are refused; packets the server encodes decode back to the same.
"""
from __future__ import annotations

import json
import math
import string
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from chatio.transport import wire

CODES = {wire.PROTOCOL_ERROR, wire.BINARY_UNSUPPORTED, wire.INVALID_PAYLOAD}
# The deepest JSON a decoded packet may hold (orjson's limit); deeper input
# must be refused, on every decoding path.
MAX_DEPTH = 1024
FUZZ = settings(max_examples=400, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def depth(value: Any) -> int:
    """Nesting depth without recursion: a scalar is 0, ``[]`` is 1."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
            if not item:
                deepest = max(deepest, level + 1)
        elif isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
            if not item:
                deepest = max(deepest, level + 1)
    return deepest


def json_like(value: Any) -> bool:
    """Only what JSON can carry, with finite numbers."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return False
            stack.extend(item.values())
        elif not (item is None or isinstance(item, (bool, int, str))):
            return False
    return True


def decode(text: str) -> wire.Packet | wire.ProtocolError:
    """The decoder's answer; any exception but ProtocolError fails."""
    try:
        packet = wire.decode(text)
    except wire.ProtocolError as exc:
        assert isinstance(exc.code, str) and exc.code in CODES, exc.code
        assert isinstance(exc.fatal, bool)
        return exc
    check_packet(packet)
    return packet


def check_packet(packet: wire.Packet) -> None:
    assert packet.type in (wire.CONNECT, wire.DISCONNECT, wire.EVENT, wire.ACK)
    assert isinstance(packet.namespace, str) and packet.namespace.startswith("/")
    assert len(packet.namespace) <= wire.MAX_NAMESPACE_CHARS + 1
    if packet.id is not None:
        assert type(packet.id) is int and 0 <= packet.id < 10**wire.MAX_ID_DIGITS
        assert packet.type in (wire.EVENT, wire.ACK)
    assert json_like(packet.data)
    assert depth(packet.data) <= MAX_DEPTH


# -- strategies ----------------------------------------------------------------

namespaces = st.one_of(
    st.just("/"), st.sampled_from(["/chat", "/typing", "/presence"]),
    st.text(st.characters(blacklist_characters=",", blacklist_categories=("Cs",)),
            max_size=wire.MAX_NAMESPACE_CHARS - 1).map(lambda s: "/" + s))
ack_ids = st.one_of(st.none(), st.integers(0, 10**wire.MAX_ID_DIGITS - 1))
# Integers past 64 bits come back as floats, as in JavaScript: exact
# round trips are only promised within that range.
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text())
json_values = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                     st.dictionaries(st.text(), inner, max_size=5)),
    max_leaves=25)
events = st.lists(json_values, min_size=1, max_size=4)


@st.composite
def valid_packets(draw: st.DrawFn) -> tuple[int, str, int | None, Any]:
    """What a well-behaved client sends: (type, namespace, id, data)."""
    kind = draw(st.sampled_from([wire.CONNECT, wire.DISCONNECT, wire.EVENT, wire.ACK]))
    namespace = draw(namespaces)
    if kind == wire.CONNECT:
        data = draw(st.one_of(st.none(), st.dictionaries(st.text(), json_values, max_size=4)))
        return kind, namespace, None, data
    if kind == wire.DISCONNECT:
        return kind, namespace, None, None
    return kind, namespace, draw(ack_ids), draw(events)


def client_text(packet: tuple[int, str, int | None, Any]) -> str:
    kind, namespace, ack, data = packet
    return wire.encode(kind, namespace, data, ack)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid packet's text, then a few edits."""
    text = client_text(draw(valid_packets()))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        at = draw(st.integers(0, len(text) - 1))
        edit = draw(st.sampled_from(["delete", "replace", "insert", "cut", "repeat"]))
        piece = draw(st.one_of(st.sampled_from(list('0123456789/,[]{}"-\\')),
                               st.characters()))
        if edit == "delete":
            text = text[:at] + text[at + 1:]
        elif edit == "replace":
            text = text[:at] + piece + text[at + 1:]
        elif edit == "insert":
            text = text[:at] + piece + text[at:]
        elif edit == "cut":
            text = text[:at]
        else:
            text = text[:at] + text[at:] * 2
    return text


# -- properties ----------------------------------------------------------------


@FUZZ
@given(st.text(max_size=300))
@example("")
@example("2")
@example("2/chat,")
@example("2/chat")
@example("2" + "9" * 400 + "[]")
@example('2["x",NaN]')
@example('2["\\ud800"]')
@example("0/" + "n" * 5000)
def test_any_text_decodes_or_raises_protocol_error(text: str) -> None:
    decode(text)


@FUZZ
@given(st.text(alphabet="0123456789/,-[]{}\":.eE+ natrufls\\", max_size=120))
def test_packet_shaped_text_decodes_or_raises_protocol_error(text: str) -> None:
    decode(text)


@FUZZ
@given(mutated())
def test_mutated_packets_decode_or_raise_protocol_error(text: str) -> None:
    decode(text)


@FUZZ
@given(valid_packets())
def test_valid_packets_round_trip(packet: tuple[int, str, int | None, Any]) -> None:
    kind, namespace, ack, data = packet
    decoded = wire.decode(client_text(packet))
    assert (decoded.type, decoded.namespace, decoded.id) == (kind, namespace, ack)
    # JSON has one number type per value; compare as JSON does.
    assert json.dumps(decoded.data, sort_keys=True) == json.dumps(data, sort_keys=True)


@FUZZ
@given(kind=st.sampled_from("56"), rest=st.text(max_size=100))
@example(kind="5", rest='1-/chat,["message",{"_placeholder":true,"num":0}]')
@example(kind="6", rest="0-[1]")
def test_binary_packets_are_always_refused(kind: str, rest: str) -> None:
    with pytest.raises(wire.ProtocolError) as info:
        wire.decode(kind + rest)
    assert info.value.code == wire.BINARY_UNSUPPORTED


@FUZZ
@given(namespace=namespaces, kind=st.sampled_from("23"),
       digits=st.integers(wire.MAX_ID_DIGITS + 1, 400),
       body=st.sampled_from(["", "[]", '["x"]']))
def test_ack_ids_past_the_bound_are_refused(namespace: str, kind: str, digits: int,
                                            body: str) -> None:
    prefix = "" if namespace == "/" else namespace + ","
    with pytest.raises(wire.ProtocolError):
        wire.decode(kind + prefix + "1" * digits + body)


def deep_event(levels: int, shape: str, lead: str) -> str:
    opener = {"list": "[", "dict": '{"a":', "mixed": '[{"a":'}[shape]
    closer = {"list": "]", "dict": "}", "mixed": "}]"}[shape]
    return '2/chat,["x",' + lead + opener * levels + "1" + closer * levels + "]"


# ``lead`` sends a body down the decoder's fallback path: orjson refuses a
# lone surrogate or an integer past 64 bits before it sees the depth.
LEADS = ["", "1" + "0" * 30 + ",", '"\\ud800",', "1.5,"]


# Plain parameters, not Hypothesis: it raises the recursion limit while a
# test runs, and the next test is about exactly that.
@pytest.mark.parametrize("extra", [1, 10, 1000, 100_000])
@pytest.mark.parametrize("shape", ["list", "dict", "mixed"])
@pytest.mark.parametrize("lead", LEADS, ids=["plain", "big-int", "surrogate", "float"])
def test_json_deeper_than_the_bound_is_refused(extra: int, shape: str, lead: str) -> None:
    with pytest.raises(wire.ProtocolError):
        wire.decode(deep_event(MAX_DEPTH + extra, shape, lead))


@pytest.mark.parametrize("lead", LEADS, ids=["plain", "big-int", "surrogate", "float"])
def test_the_depth_bound_does_not_depend_on_the_recursion_limit(lead: str) -> None:
    """Any library in the process may raise the interpreter's recursion
    limit; the decoder's bound must hold all the same."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        with pytest.raises(wire.ProtocolError):
            wire.decode(deep_event(3 * MAX_DEPTH, "list", lead))
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("number", ["1e999", "-1e400", "1" + "0" * 400 + ".0",
                                    "1.7976931348623159e308"],
                         ids=["1e999", "-1e400", "400-digit-float", "just-past-max"])
def test_numbers_that_overflow_a_double_never_decode_to_infinity(number: str) -> None:
    """NaN and Infinity are refused; neither may come in as an overflow."""
    answer = decode(f'2/chat,["history",{{"room":"r","since":{number}}}]')
    assert isinstance(answer, wire.ProtocolError), answer


@settings(max_examples=60, deadline=None)
@given(levels=st.integers(1, MAX_DEPTH - 2))
def test_json_within_the_bound_decodes(levels: int) -> None:
    packet = wire.decode('2["x",' + "[" * levels + "]" * levels + "]")
    assert depth(packet.data) == levels + 1


@FUZZ
@given(digits=st.integers(1, 100_000), sign=st.sampled_from(["", "-"]),
       where=st.sampled_from(["arg", "key", "nested"]))
@example(digits=4300, sign="", where="arg")
@example(digits=4301, sign="-", where="arg")
def test_big_integers_never_crash_the_decoder(digits: int, sign: str, where: str) -> None:
    number = sign + "9" * digits
    body = {"arg": f'["x",{number}]', "key": f'["x",{{"since":{number}}}]',
            "nested": f'["x",[[{number}]],{{"a":[{number}]}}]'}[where]
    answer = decode("2/chat,7" + body)
    if isinstance(answer, wire.Packet):
        # Exact when it fits 64 bits (or the standard library took over),
        # else the nearest double, as JavaScript would read it.
        found = answer.data[1] if where == "arg" else (
            answer.data[1]["since"] if where == "key" else answer.data[1][0][0])
        assert type(found) in (int, float)
        if type(found) is int:
            assert digits <= 4300 and found == int(number)


@FUZZ
@given(namespace=namespaces, ack=st.integers(0, 10**wire.MAX_ID_DIGITS - 1),
       junk=st.text(string.printable, min_size=1, max_size=40))
def test_a_bad_event_payload_keeps_its_ack_id(namespace: str, ack: int, junk: str) -> None:
    """A broken EVENT body is answered on its namespace, with its ack id."""
    assume(not junk[0].isdigit())
    prefix = "" if namespace == "/" else namespace + ","
    text = f"2{prefix}{ack}{junk}"
    try:
        json.loads(junk)
    except ValueError:
        pass
    else:
        return  # valid JSON: not this property
    with pytest.raises(wire.ProtocolError) as info:
        wire.decode(text)
    assert info.value.fatal is False
    assert (info.value.namespace, info.value.id) == (namespace, ack)
