"""The JSON module python-socketio encodes and decodes packets with.

orjson does the work. The standard library takes over for what orjson
refuses but a client may legitimately send or be sent: lone surrogates
(``"\\ud800"``), which the schemas then reject, and integers beyond 64 bits
in an outgoing value. Decoding is bounded either way: NaN and Infinity are
refused, and nesting deeper than orjson's limit fails without recursing.
"""
from __future__ import annotations

import json as _stdlib
from typing import Any

import orjson

JSONDecodeError = _stdlib.JSONDecodeError


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


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
    try:
        return _stdlib.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
