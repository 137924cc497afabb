"""Finding and checking the token a Socket.IO connection presents.

The first location that is present decides, and a bad value there is
refused rather than passed over:

1. the ``auth`` payload, when it is an object with a ``token`` key;
2. the ``token`` query parameter, when the handshake query has one;
3. an ``Authorization: Bearer`` header.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from .tokens import Identity, TokenIssuer


def presented_token(environ: dict[str, Any], auth: Any) -> Any:
    """The value in the first location present, or None when there is none.

    The value is returned as given (it may be empty or not a string) for
    ``TokenIssuer.verify`` to refuse.
    """
    if isinstance(auth, dict) and "token" in auth:
        return auth["token"]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if "token" in query:
        values = query["token"]
        return values[0] if len(values) == 1 else None
    scheme, _, credentials = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    return None


def authenticate(issuer: TokenIssuer, environ: dict[str, Any],
                 auth: Any) -> Identity:
    """The identity behind a connection, or ``TokenError``."""
    return issuer.verify(presented_token(environ, auth))
