"""Access-token decoding, without a server (B1, B2)."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from pgcube import errors
from pgcube.auth import api_keys, tokens

SECRET = "unit-test-secret-0123456789abcdefghijklmnop"


def test_round_trip() -> None:
    account_id = str(uuid.uuid4())
    token = tokens.issue_access_token(SECRET, account_id, "s1", 900)
    claims = tokens.decode_access_token(SECRET, token)
    assert claims.sub == account_id
    assert claims.sid == "s1"
    assert claims.exp - claims.iat == 900


def test_the_leeway_is_at_most_30_seconds() -> None:
    account_id = str(uuid.uuid4())
    now = int(time.time())
    within = jwt.encode({"typ": "access", "sub": account_id, "iat": now - 100, "exp": now - 20}, SECRET)
    beyond = jwt.encode({"typ": "access", "sub": account_id, "iat": now - 100, "exp": now - 40}, SECRET)
    assert tokens.decode_access_token(SECRET, within).sub == account_id
    with pytest.raises(errors.TokenExpired):
        tokens.decode_access_token(SECRET, beyond)


@pytest.mark.parametrize("garbage", ["", ".", "..", "a.b.c", "e30.e30.", "x" * 10_000])
def test_garbage_is_authentication_failed(garbage: str) -> None:
    with pytest.raises(errors.AuthenticationFailed):
        tokens.decode_access_token(SECRET, garbage)


def test_opaque_tokens_are_256_bits_and_shape_checked() -> None:
    token = tokens.new_opaque_token()
    assert tokens.is_opaque_token(token)
    assert len(token) == 43
    assert not tokens.is_opaque_token(token + "\n")
    assert not tokens.is_opaque_token(token[:-1])
    assert len({tokens.new_opaque_token() for _ in range(1000)}) == 1000
    assert len(tokens.digest(token)) == 32


def test_api_keys_parse_only_their_own_shape() -> None:
    created = api_keys.new_key()
    parsed = api_keys.parse(created.key)
    assert parsed is not None
    assert parsed.key_id == created.key_id
    assert api_keys.secret_matches(parsed, created.secret_digest)
    assert created.prefix == "pgc_" + created.key_id
    for bad in (
        "",
        created.key + "x",
        created.key[:-1],
        created.key.upper(),
        " " + created.key,
        created.key + "\n",
    ):
        assert api_keys.parse(bad) is None
    other = api_keys.parse(api_keys.new_key().key)
    assert other is not None
    assert not api_keys.secret_matches(other, created.secret_digest)


def test_a_verified_token_is_served_from_the_cache_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = str(uuid.uuid4())
    now = int(time.time())
    token = jwt.encode({"typ": "access", "sub": account_id, "iat": now, "exp": now + 60}, SECRET)
    verified = tokens.VerifiedAccessTokens(SECRET)
    assert verified.decode(token).sub == account_id
    checks: list[str] = []
    monkeypatch.setattr(tokens, "decode_access_token", lambda secret, t: checks.append(t))
    assert verified.decode(token).sub == account_id
    assert checks == [], "the second use skips the signature check"

    def expired(secret: str, t: str) -> tokens.AccessClaims:
        raise errors.TokenExpired()

    monkeypatch.setattr(tokens, "decode_access_token", expired)
    monkeypatch.setattr(tokens.time, "time", lambda: now + 60 + tokens.LEEWAY_SECONDS + 1)
    with pytest.raises(errors.TokenExpired):
        verified.decode(token)  # past its expiry the cache answers nothing: the check runs again


def test_the_cache_of_verified_tokens_refuses_what_it_never_verified() -> None:
    verified = tokens.VerifiedAccessTokens(SECRET, max_entries=2)
    forged = jwt.encode(
        {"typ": "access", "sub": str(uuid.uuid4()), "iat": 1, "exp": 2**40}, "another secret" * 4
    )
    for _ in range(2):
        with pytest.raises(errors.AuthenticationFailed):
            verified.decode(forged)
    keep = [tokens.issue_access_token(SECRET, str(uuid.uuid4()), None, 900) for _ in range(3)]
    assert [verified.decode(t).sub for t in keep] == [verified.decode(t).sub for t in keep]
