"""The asyncpg pool: one per process, created in the app's lifespan.

Every connection gets:

* ``plan_cache_mode = force_custom_plan`` — asyncpg prepares every statement,
  and a generic plan for ``data @@ $1`` can turn a 0.3 s query into 2.6 s
  (DESIGN §4);
* ``statement_timeout`` from the settings: every statement of every request runs under it,
  with no per-request ``SET`` (one round trip saved on each request);
* ``application_name = pgcube`` so a DBA can find our sessions;
* ``jsonb`` and ``json`` as raw bytes both ways: documents pass through
  pgcube without being decoded in Python (DESIGN §6).

A connection goes back to the pool without asyncpg's default session reset
(``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``, one more
round trip per request): pgcube never leaves session state on a pooled
connection — settings are ``SET LOCAL``, advisory locks ``_xact_``, temporary
tables ``ON COMMIT DROP``, no ``LISTEN`` — so the transaction's end already
resets everything. asyncpg still rolls back a transaction left open
(docs/adr/0006-benchmarks.md).
"""

from __future__ import annotations

import asyncpg

from pgcube.settings import Settings

APPLICATION_NAME = "pgcube"
_JSONB_VERSION = b"\x01"


HNSW_MAX_SCAN_TUPLES = 1000
"""Rows an HNSW iterative scan reads before a filtered search turns exact. Measured on 60,000
256-d vectors in 20 clusters, limit 10: a match on a far cluster took 148 ms and still came back
short at pgvector's default (20,000); with 1,000 and the exact fallback, 17 ms and complete; a
near one 2 ms either way."""


def server_settings(settings: Settings) -> dict[str, str]:
    return {
        "application_name": APPLICATION_NAME,
        "plan_cache_mode": "force_custom_plan",
        "statement_timeout": str(settings.statement_timeout_ms),
        "timezone": "UTC",
        # pgvector's HNSW scans read on until LIMIT rows pass a filter, for at most this many rows;
        # past them a search falls back to an exact one (pgcube.vectors.statements, ADR 0023).
        # Placeholders until the extension loads, harmless where it is not installed.
        "hnsw.iterative_scan": "relaxed_order",
        "hnsw.max_scan_tuples": str(HNSW_MAX_SCAN_TUPLES),
    }


def _encode_jsonb(value: bytes | str) -> bytes:
    """A JSON text (bytes or str) as jsonb's binary wire format."""
    return _JSONB_VERSION + (value.encode() if isinstance(value, str) else value)


def _decode_jsonb(value: bytes) -> bytes:
    return value[1:]


def _identity_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


async def init_connection(conn: asyncpg.Connection) -> None:
    """Codecs for one new connection (also used by tests' direct connections)."""
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", format="binary", encoder=_encode_jsonb, decoder=_decode_jsonb
    )
    await conn.set_type_codec(
        "json", schema="pg_catalog", format="binary", encoder=_identity_bytes, decoder=bytes
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset: nothing beyond the rollback of an open transaction asyncpg always does."""


async def create_pool(settings: Settings, url: str) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url,
        min_size=min(settings.pool_min_size, settings.pool_max_size),
        max_size=settings.pool_max_size,
        server_settings=server_settings(settings),
        init=init_connection,
        reset=_keep_session,
        timeout=settings.pool_acquire_timeout,  # connect timeout: fail fast when PostgreSQL is down
        # Connections that lived through a server restart are dropped, not reused.
        max_inactive_connection_lifetime=300,
    )
    return pool


async def connect(settings: Settings, url: str) -> asyncpg.Connection:
    """One connection configured like the pool's (CLI tools, tests)."""
    conn: asyncpg.Connection = await asyncpg.connect(url, server_settings=server_settings(settings))
    await init_connection(conn)
    return conn
