"""Tokens minted the way any backend would: itsdangerous and the public format.

These helpers deliberately do not import ``chatio``: the point is that the
token format documented in ``docs/protocol.md`` is enough to mint tokens.
"""
from __future__ import annotations

from typing import Any

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

TOKEN_SALT = "chatio-auth"
_UNSET: Any = object()


def _signer_at(timestamp: int) -> type[TimestampSigner]:
    """A signer that stamps signatures with ``timestamp`` instead of now."""

    class _BackdatedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return timestamp

    return _BackdatedSigner


def mint_token(secret: str, sub: Any = _UNSET, *, name: Any = _UNSET,
               rooms: Any = _UNSET, exp: Any = _UNSET,
               issued_at: float | None = None, salt: str = TOKEN_SALT,
               claims: Any = _UNSET) -> str:
    """A signed token.

    ``issued_at`` backdates the signature's timestamp (epoch seconds), which
    is how a token gets older than ``CHATIO_TOKEN_TTL`` without waiting.
    ``claims`` replaces the whole payload, for malformed-token tests.
    """
    if claims is _UNSET:
        claims = {}
        if sub is not _UNSET:
            claims["sub"] = sub
        if name is not _UNSET:
            claims["name"] = name
        if rooms is not _UNSET:
            claims["rooms"] = rooms
        if exp is not _UNSET:
            claims["exp"] = exp
    kwargs: dict[str, Any] = {"salt": salt}
    if issued_at is not None:
        kwargs["signer"] = _signer_at(int(issued_at))
    return URLSafeTimedSerializer(secret, **kwargs).dumps(claims)


def load_token(secret: str, token: str,
               max_age: float | None = None) -> Any:
    """The claims of a token, checked with the public format."""
    return URLSafeTimedSerializer(secret, salt=TOKEN_SALT).loads(
        token, max_age=max_age)
