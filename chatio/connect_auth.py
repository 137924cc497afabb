"""Finding and checking the token a Socket.IO connection presents."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from .tokens import Identity, TokenIssuer


def presented_token(environ: dict[str, Any], auth: Any) -> str | None:
    """The token from the ``auth`` payload, ``?token=`` or a Bearer header."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if query.get("token"):
        return query["token"][0]
    scheme, _, credentials = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def authenticate(issuer: TokenIssuer, environ: dict[str, Any],
                 auth: Any) -> Identity:
    """The identity behind a connection, or ``TokenError``."""
    return issuer.verify(presented_token(environ, auth))
