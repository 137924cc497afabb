"""The JSON module python-socketio encodes and decodes packets with.

orjson does the work. The standard library takes over for what orjson
refuses but a client may legitimately send or be sent: lone surrogates
(``"\\ud800"``), which the schemas then reject, and integers beyond 64 bits
in an outgoing value. Decoding is bounded either way: NaN, Infinity and
numbers that overflow a double are refused, and nesting deeper than
orjson's limit (1024) fails without recursing.
"""
from __future__ import annotations

import json as _stdlib
import math
from typing import Any

import orjson

JSONDecodeError = _stdlib.JSONDecodeError


# orjson's own limit; the standard library is held to it too.
MAX_DEPTH = 1024


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError("number out of range")
    return value


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text``, outside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def dumps(obj: Any, **_ignored: Any) -> str:
    """``obj`` as compact JSON text."""
    try:
        return orjson.dumps(obj).decode()
    except TypeError:
        return _stdlib.dumps(obj, separators=(",", ":"))


def dumpb(obj: Any) -> bytes:
    """``obj`` as compact UTF-8 JSON, for building frames."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return _stdlib.dumps(obj, separators=(",", ":")).encode()


def loads(text: str | bytes, **_ignored: Any) -> Any:
    """Decode JSON text; raises ``ValueError`` for anything that is not."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc):
            raise ValueError("JSON nested too deeply") from None
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if _depth(text) > MAX_DEPTH:
        raise ValueError("JSON nested too deeply")
    try:
        return _stdlib.loads(text, parse_constant=_refuse_constant,
                             parse_float=_finite)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
