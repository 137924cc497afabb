import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from chatio.constants import TOKEN_EXPIRED, UNAUTHORIZED
from chatio.tokens import TokenError, TokenIssuer

SECRET = "s" * 32


def public_mint(claims: object, secret: str = SECRET) -> str:
    return URLSafeTimedSerializer(secret, salt="chatio-auth").dumps(claims)


def test_token_minted_by_any_backend_is_accepted() -> None:
    identity = TokenIssuer(SECRET, 60).verify(
        public_mint({"sub": "ann", "rooms": ["team-*"]}))
    assert identity.user_id == "ann" and identity.name == "ann"
    assert identity.may_use("team-red") and not identity.may_use("other")


def test_empty_rooms_allows_no_room() -> None:
    identity = TokenIssuer(SECRET, 60).verify(public_mint({"sub": "a", "rooms": []}))
    assert not identity.may_use("lobby")


def minted(claims: object, secret: str = SECRET):
    """Mint when the test runs, not at collection: a token minted while the
    suite starts could expire before its test."""
    return lambda: public_mint(claims, secret)


@pytest.mark.parametrize("token", [
    None, "", 42, "garbage", minted({"sub": "a"}, secret="x" * 32),
    minted(["sub"]), minted({"name": "no sub"}), minted({"sub": ""}),
    minted({"sub": "a", "rooms": "lobby"}), minted({"sub": "a", "exp": "soon"}),
    minted({"sub": "a", "exp": True}), minted({"sub": "a\x00b"})])
def test_bad_tokens_are_unauthorized(token: object) -> None:
    if callable(token):
        token = token()
    with pytest.raises(TokenError) as info:
        TokenIssuer(SECRET, 60).verify(token)
    assert info.value.code == UNAUTHORIZED


def test_passed_exp_is_expired() -> None:
    with pytest.raises(TokenError) as info:
        TokenIssuer(SECRET, 60).verify(public_mint({"sub": "a", "exp": time.time() - 1}))
    assert info.value.code == TOKEN_EXPIRED


def test_signature_older_than_ttl_is_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    issuer = TokenIssuer(SECRET, 60)
    monkeypatch.setattr(time, "time", lambda: 1_000_000.0)
    token = issuer.mint("a")
    monkeypatch.setattr(time, "time", lambda: 1_000_061.0)
    with pytest.raises(TokenError) as info:
        issuer.verify(token)
    assert info.value.code == TOKEN_EXPIRED


def test_guest_renewal_window(monkeypatch: pytest.MonkeyPatch) -> None:
    issuer = TokenIssuer(SECRET, 60)
    monkeypatch.setattr(time, "time", lambda: 1_000_000.0)
    guest, member = issuer.mint("guest-1", name="G"), issuer.mint("bob")
    monkeypatch.setattr(time, "time", lambda: 1_000_000.0 + 6 * 86400)
    assert issuer.verify_for_renewal(guest).user_id == "guest-1"
    with pytest.raises(TokenError):
        issuer.verify_for_renewal(member)
    monkeypatch.setattr(time, "time", lambda: 1_000_000.0 + 8 * 86400)
    with pytest.raises(TokenError):
        issuer.verify_for_renewal(guest)
