"""``Idempotency-Key`` on inserts (RELIABILITY F5): a retry returns the first answer.

The key is scoped per account; the same key with a different request (method,
path or body) is a 422. A stored answer is replayed only to a caller with the
same reach as the first one (an API key scoped to one database cannot replay
an answer given in another), and only after the caller is known to reach the
request's database. Answers are kept ``PGCUBE_IDEMPOTENCY_RETENTION`` seconds
(at least 24 h).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response

from pgcube import errors
from pgcube.data import idempotency
from pgcube.db.session import Session
from pgcube.principal import Principal

HEADER = "idempotency-key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


async def _request_hash(request: Request[Any, Any, Any], principal: Principal) -> bytes:
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.url.path.encode() + b"\n")
    digest.update(f"reach {principal.database_id or '*'} user {principal.user_key or '-'}\n".encode())
    digest.update(await request.body())
    return digest.digest()


async def idempotent(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Principal,
    database_id: str,
    answer: Callable[[], Awaitable[Response[bytes]]],
) -> Response[bytes]:
    """``answer()``, or the stored answer of an earlier request with the same key.

    With a key, the claim, the work and the stored answer are one transaction:
    they are durable together or not at all."""
    key = request.headers.get(HEADER)
    if key is None:
        return await answer()
    if not principal.can_reach(database_id):
        raise errors.DatabaseNotFound()  # what the request would answer without the header
    if not _KEY.match(key):
        raise errors.ValidationError(
            "Idempotency-Key must be 1-255 visible ASCII characters", details={"header": "Idempotency-Key"}
        )
    request_hash = await _request_hash(request, principal)
    async with session.transaction() as conn:
        stored = await idempotency.claim(conn, principal.account_id, key, request_hash)
        if stored is not None:
            if stored.request_hash != request_hash:
                raise errors.IdempotencyMismatch(details={"header": "Idempotency-Key"})
            return Response(
                content=stored.body,
                status_code=stored.status,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        response = await answer()
        body = response.content if isinstance(response.content, bytes) else b""
        await idempotency.store(conn, principal.account_id, key, response.status_code or 200, body)
        return response
