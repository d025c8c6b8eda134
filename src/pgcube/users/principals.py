"""The end user of a web-key request: ``X-API-KEY`` names the project and the key's kind,
``Authorization: Bearer <id_token>`` the end user (SPEC §11.1, RELIABILITY I2)."""

from __future__ import annotations

import msgspec

from pgcube import errors
from pgcube.principal import Principal
from pgcube.users.tokens import VerifiedIdTokens

WEB_KEY_ONLY = "An id_token is sent with a web key (X-API-KEY) of its database"


def with_end_user(principal: Principal, token: str, id_tokens: VerifiedIdTokens) -> Principal:
    """The web key's principal with the end user its ``id_token`` names; 401 for a token that is
    bad, expired, of another database, or sent with a key that is not a web key."""
    if not principal.is_web:
        raise errors.AuthenticationFailed(WEB_KEY_ONLY)
    claims = id_tokens.decode(token)
    if claims.pid != principal.database_id:
        raise errors.AuthenticationFailed()
    return msgspec.structs.replace(principal, user_key=claims.sub, user_session=claims.sid)
