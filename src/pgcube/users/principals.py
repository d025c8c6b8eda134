"""The end user of a web-key request: ``X-API-KEY`` names the project and the key's kind,
``Authorization: Bearer <id_token>`` the end user (SPEC §11.1, RELIABILITY I2, H4).

A token is refused when it is bad or expired, of another database, sent with a key
that is not a web key, or when its session has ended (signed out, a password
changed, the user disabled or deleted). A warm request pays two dictionary
look-ups: the token's verified claims and its session's cached state.
"""

from __future__ import annotations

import msgspec

from pgcube import errors
from pgcube.db.session import Session
from pgcube.principal import Principal
from pgcube.users.sessions import session_is_live
from pgcube.users.tokens import VerifiedIdTokens

WEB_KEY_ONLY = "An id_token is sent with a web key (X-API-KEY) of its database"
SESSION_ENDED = "The session has ended (signed out, or the password changed): sign in again"


async def with_end_user(
    principal: Principal, token: str, id_tokens: VerifiedIdTokens, session: Session
) -> Principal:
    """The web key's principal with the end user its ``id_token`` names; 401 otherwise."""
    if not principal.is_web:
        raise errors.AuthenticationFailed(WEB_KEY_ONLY)
    claims = id_tokens.decode(token)
    if claims.pid != principal.database_id:
        raise errors.AuthenticationFailed()
    if not await session_is_live(session, principal, claims):
        raise errors.AuthenticationFailed(SESSION_ENDED)
    return msgspec.structs.replace(principal, user_key=claims.sub, user_session=claims.sid)
