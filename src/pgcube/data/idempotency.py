"""``Idempotency-Key`` answers (RELIABILITY F5): the ``pgcube.idempotency_keys`` table (``sql/data.sql``).

``claim`` inserts a placeholder row for (account, key) in the request's
transaction. A concurrent request with the same key waits on that row until
the first commits (then it sees the stored answer) or rolls back (then it
claims the key itself). The answer is stored in the same transaction as the
insert it describes, so both are durable together or not at all.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pgcube.db import statements

Connection = Any
SQL = statements.load("data")


class StoredAnswer(msgspec.Struct, frozen=True):
    request_hash: bytes
    status: int
    body: bytes


async def claim(conn: Connection, account_id: str, key: str, request_hash: bytes) -> StoredAnswer | None:
    """None when this request now owns the key; else the answer stored for it earlier."""
    if await conn.fetchval(SQL.claim_idempotency_key, account_id, key, request_hash):
        return None
    row = await conn.fetchrow(SQL.stored_answer, account_id, key)
    return StoredAnswer(bytes(row["request_hash"]), row["status"], bytes(row["response"]))


async def store(conn: Connection, account_id: str, key: str, status: int, body: bytes) -> None:
    await conn.execute(SQL.store_answer, account_id, key, status, body)


async def purge(conn: Connection, older_than: int) -> int:
    status: str = await conn.execute(SQL.purge_answers, float(older_than))
    return int(status.rsplit(" ", 1)[-1])
