"""Signed, timed access tokens (itsdangerous), in a format any backend can mint.

A token is ``URLSafeTimedSerializer(secret, salt="chatio-auth")`` over
``{"sub", "name"?, "rooms"?, "exp"?}``. Verification never raises the crypto
library's exceptions: it raises ``TokenError`` with a wire code.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import math
import time
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from . import constants as c

MAX_ID_CHARS = 128
MAX_NAME_CHARS = 64
MAX_PATTERNS = 100


class TokenError(Exception):
    """A token was refused; ``code`` is UNAUTHORIZED or TOKEN_EXPIRED."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who a verified token speaks for."""

    user_id: str
    name: str
    rooms: tuple[str, ...] | None = None  # None: any room

    @property
    def is_guest(self) -> bool:
        return self.user_id.startswith(c.GUEST_PREFIX)

    def may_use(self, room: str) -> bool:
        """Whether the token's room patterns allow ``room``."""
        if self.rooms is None:
            return True
        return any(fnmatch.fnmatchcase(room, p) for p in self.rooms)

    def public(self) -> dict[str, str]:
        return {"id": self.user_id, "name": self.name}


class TokenIssuer:
    """Mints and verifies tokens with one secret and time-to-live."""

    def __init__(self, secret: str, ttl: float) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=c.TOKEN_SALT)
        self.ttl = ttl

    def mint(self, sub: str, *, name: str | None = None,
             rooms: list[str] | None = None, ttl: float | None = None) -> str:
        """A token for ``sub``; ``ttl`` sets ``exp`` that many seconds ahead."""
        claims: dict[str, Any] = {"sub": sub}
        if name is not None:
            claims["name"] = name
        if rooms is not None:
            claims["rooms"] = list(rooms)
        if ttl is not None:
            claims["exp"] = int(time.time() + ttl)
        _identity_from(claims)  # refuse to mint what we would not accept
        return self._serializer.dumps(claims)

    def expires_in(self, ttl: float | None) -> int:
        """Seconds a freshly minted token stays valid."""
        return int(self.ttl if ttl is None else min(ttl, self.ttl))

    def verify(self, token: Any) -> Identity:
        """The identity of a valid token, or ``TokenError``."""
        claims = self._load(token, max_age=self.ttl)
        identity = _identity_from(claims)
        _check_exp(claims, grace=0)
        return identity

    def verify_for_renewal(self, token: Any) -> Identity:
        """A guest token with a valid signature, expired at most 7 days ago."""
        window = c.GUEST_RENEWAL_WINDOW_SECONDS
        claims = self._load(token, max_age=self.ttl + window)
        identity = _identity_from(claims)
        _check_exp(claims, grace=window)
        if not identity.is_guest:
            raise TokenError(c.UNAUTHORIZED, "not a guest token")
        return identity

    def _load(self, token: Any, max_age: float) -> dict[str, Any]:
        if not isinstance(token, str) or not token or len(token) > 8192:
            raise TokenError(c.UNAUTHORIZED, "missing token")
        try:
            claims = self._serializer.loads(token, max_age=max_age)
        except SignatureExpired:
            raise TokenError(c.TOKEN_EXPIRED, "token expired") from None
        except (BadSignature, ValueError, TypeError):
            raise TokenError(c.UNAUTHORIZED, "invalid token") from None
        if not isinstance(claims, dict):
            raise TokenError(c.UNAUTHORIZED, "malformed claims")
        return claims


def _identity_from(claims: dict[str, Any]) -> Identity:
    sub, name, rooms = claims.get("sub"), claims.get("name"), claims.get("rooms")
    if not _is_short_text(sub, MAX_ID_CHARS):
        raise TokenError(c.UNAUTHORIZED, "malformed sub")
    if name is None:
        name = sub
    elif not _is_short_text(name, MAX_NAME_CHARS):
        raise TokenError(c.UNAUTHORIZED, "malformed name")
    if rooms is not None:
        if (not isinstance(rooms, list) or len(rooms) > MAX_PATTERNS
                or not all(_is_short_text(p, 256) for p in rooms)):
            raise TokenError(c.UNAUTHORIZED, "malformed rooms")
        rooms = tuple(rooms)
    exp = claims.get("exp")
    if exp is not None and (isinstance(exp, bool)
                            or not isinstance(exp, (int, float))
                            or not math.isfinite(exp)):
        raise TokenError(c.UNAUTHORIZED, "malformed exp")
    return Identity(user_id=sub, name=name, rooms=rooms)


def _check_exp(claims: dict[str, Any], grace: float) -> None:
    exp = claims.get("exp")
    if exp is not None and exp + grace <= time.time():
        raise TokenError(c.TOKEN_EXPIRED, "token expired")


def _is_short_text(value: Any, limit: int) -> bool:
    return (isinstance(value, str) and 0 < len(value) <= limit
            and value.isprintable())
