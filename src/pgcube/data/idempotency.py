"""``Idempotency-Key`` answers (RELIABILITY F5): SQL for the ``pgcube.idempotency_keys`` table.

``claim`` inserts a placeholder row for (account, key) in the request's
transaction. A concurrent request with the same key waits on that row until
the first commits (then it sees the stored answer) or rolls back (then it
claims the key itself). The answer is stored in the same transaction as the
insert it describes, so both are durable together or not at all.
"""

from __future__ import annotations

from typing import Any

import msgspec

Connection = Any


class StoredAnswer(msgspec.Struct, frozen=True):
    request_hash: bytes
    status: int
    body: bytes


async def claim(conn: Connection, account_id: str, key: str, request_hash: bytes) -> StoredAnswer | None:
    """None when this request now owns the key; else the answer stored for it earlier."""
    claimed = await conn.fetchval(
        "INSERT INTO pgcube.idempotency_keys (account_id, key, request_hash, status, response) "
        "VALUES ($1::uuid, $2, $3, 0, '') ON CONFLICT DO NOTHING RETURNING true",
        account_id,
        key,
        request_hash,
    )
    if claimed:
        return None
    row = await conn.fetchrow(
        "SELECT request_hash, status, response FROM pgcube.idempotency_keys WHERE account_id = $1::uuid AND key = $2",
        account_id,
        key,
    )
    return StoredAnswer(bytes(row["request_hash"]), row["status"], bytes(row["response"]))


async def store(conn: Connection, account_id: str, key: str, status: int, body: bytes) -> None:
    await conn.execute(
        "UPDATE pgcube.idempotency_keys SET status = $3, response = $4 WHERE account_id = $1::uuid AND key = $2",
        account_id,
        key,
        status,
        body,
    )


async def purge(conn: Connection, older_than: int) -> int:
    status: str = await conn.execute(
        "DELETE FROM pgcube.idempotency_keys WHERE created_at <= now() - make_interval(secs => $1)",
        float(older_than),
    )
    return int(status.rsplit(" ", 1)[-1])
