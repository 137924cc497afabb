"""What the Admin UI shows of a socket or an event: never a credential.

A socket's handshake keeps the headers and query parameters an operator
needs to tell clients apart; every other value (``Authorization``, the
``token`` query parameter, anything unknown) is replaced by ``REDACTED``,
its name kept. The ``auth`` payload of a connection is never shown. Event
payloads keep their shape, with the values of credential-like keys
redacted at any depth.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

REDACTED = "[redacted]"

# Handshake headers shown as sent (lower-case, as the UI expects).
SHOWN_HEADERS = frozenset({"host", "origin", "user-agent", "x-forwarded-for",
                           "x-forwarded-proto", "x-forwarded-host"})
# Handshake query parameters shown as sent: engine.io's own.
SHOWN_QUERY = frozenset({"EIO", "transport", "t"})
# Keys whose values are redacted in event payloads, compared lower-case.
SECRET_KEYS = frozenset({"token", "access_token", "refresh_token", "auth",
                         "authorization", "password", "secret", "api_key",
                         "apikey", "cookie"})
# Payloads nested deeper than this are cut off rather than walked.
MAX_DEPTH = 16


def timestamp(seconds: float) -> str:
    """An ISO 8601 UTC time, as the UI's events carry."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def handshake(environ: Mapping[str, Any], address: str,
              connected_at: float) -> dict[str, Any]:
    """A socket's handshake for the UI, from its engine.io environ."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].lower().replace("_", "-")
            headers[name] = value if name in SHOWN_HEADERS else REDACTED
    query: dict[str, Any] = {}
    parsed = parse_qs(str(environ.get("QUERY_STRING", "")),
                      keep_blank_values=True)
    for name, values in parsed.items():
        if name in SHOWN_QUERY:
            query[name] = values[0] if len(values) == 1 else values
        else:
            query[name] = REDACTED
    return {
        "address": address,
        "headers": headers,
        "query": query,
        "secure": environ.get("wsgi.url_scheme") == "https",
        "url": environ.get("PATH_INFO", ""),
        "issued": connected_at * 1000,
        "time": timestamp(connected_at) if connected_at else "",
    }


def redact(value: Any, depth: int = 0) -> Any:
    """``value`` with credential-like keys' values replaced, at any depth."""
    if depth >= MAX_DEPTH:
        return REDACTED
    if isinstance(value, dict):
        return {key: REDACTED if str(key).lower() in SECRET_KEYS
                else redact(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item, depth + 1) for item in value]
    return value
