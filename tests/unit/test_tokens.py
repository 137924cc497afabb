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


@pytest.mark.parametrize("token", [
    None, "", 42, "garbage", public_mint({"sub": "a"}, secret="x" * 32),
    public_mint(["sub"]), public_mint({"name": "no sub"}), public_mint({"sub": ""}),
    public_mint({"sub": "a", "rooms": "lobby"}), public_mint({"sub": "a", "exp": "soon"}),
    public_mint({"sub": "a", "exp": True}), public_mint({"sub": "a\x00b"})])
def test_bad_tokens_are_unauthorized(token: object) -> None:
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
