"""Alembic owns exactly the `pgcube` schema: up from empty, idempotent, reversible."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pgcube.db import migrations
from pgcube.management import ddl
from tests.support.postgres import scratch_database
from tests.support.sync_pg import SyncPg

CONTROL_TABLES = {
    "accounts",
    "refresh_tokens",
    "email_tokens",
    "outbox",
    "login_throttle",
    "sessions",
    "databases",
    "collections",
    "fields",
    "api_keys",
    "idempotency_keys",
    "rate_limits",
    "alembic_version",
}


@pytest.fixture
def empty_db(pg_server_url: str) -> Iterator[tuple[str, SyncPg]]:
    with scratch_database(pg_server_url) as url:
        conn = SyncPg(url)
        try:
            yield url, conn
        finally:
            conn.close()


def control_tables(conn: SyncPg) -> set[str]:
    rows = conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'pgcube'")
    return {row["tablename"] for row in rows}


def test_upgrade_from_empty_creates_the_control_plane(empty_db: tuple[str, SyncPg]) -> None:
    url, conn = empty_db
    conn.execute("CREATE TABLE public.bystander (id int)")
    assert control_tables(conn) == set()

    migrations.upgrade(url)

    assert control_tables(conn) >= CONTROL_TABLES
    assert conn.fetchval("SELECT version_num FROM pgcube.alembic_version") == "0010"
    assert (
        conn.fetchval("SELECT to_regprocedure('pgcube.update_holds(text[], integer, integer)')") is not None
    )
    assert conn.fetchval("SELECT to_regclass('public.bystander')") is not None
    assert conn.fetchval("SELECT to_regclass('public.alembic_version')") is None


def test_upgrade_installs_pgvector_where_the_server_offers_it(empty_db: tuple[str, SyncPg]) -> None:
    """The embedded PostgreSQL offers pgvector and gets it; Debian's 15 does not, and the
    migrations carry on (the vdb.* ops then answer 501)."""
    url, conn = empty_db
    migrations.upgrade(url)
    offered = conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
    installed = conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")
    assert installed == offered


def test_upgrade_twice_is_a_no_op(empty_db: tuple[str, SyncPg]) -> None:
    url, conn = empty_db
    migrations.upgrade(url)
    conn.execute("INSERT INTO pgcube.rate_limits VALUES ('probe', now(), 1)")

    migrations.upgrade(url)

    assert conn.fetchval("SELECT hits FROM pgcube.rate_limits WHERE bucket = 'probe'") == 1
    assert conn.fetchval("SELECT count(*) FROM pgcube.alembic_version") == 1


def test_downgrade_removes_only_the_control_plane(empty_db: tuple[str, SyncPg]) -> None:
    url, conn = empty_db
    conn.execute("CREATE TABLE public.bystander (id int)")
    migrations.upgrade(url)

    migrations.downgrade(url, "base")

    assert control_tables(conn) == {"alembic_version"}
    assert conn.fetchval("SELECT to_regclass('public.bystander')") is not None


def _trash_indexes(conn: SyncPg, schema: str) -> set[str]:
    rows = conn.fetch(
        "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = '_trash'", schema
    )
    return {row["indexname"] for row in rows}


def test_a_database_made_before_0010_gets_the_trash_index_and_loses_it_on_downgrade(
    empty_db: tuple[str, SyncPg],
) -> None:
    url, conn = empty_db
    migrations.upgrade(url, "0009")
    schema = "older_3fa9c1"
    account = conn.fetchval(
        "INSERT INTO pgcube.accounts (email, email_canonical, password_hash) "
        "VALUES ('old@example.com', 'old@example.com', 'x') RETURNING id"
    )
    conn.execute(
        "INSERT INTO pgcube.databases (id, account_id, name, schema_name) VALUES ($1, $2, 'older', $3)",
        "a" * 24,
        account,
        schema,
    )
    for statement in ddl.create_schema(schema, database_name="older", database_id="a" * 24, owner="old"):
        conn.execute(statement)
    conn.execute(f'DROP INDEX "{schema}"."_trash$collection"')  # as create_trash made it before 0010
    assert "_trash$collection" not in _trash_indexes(conn, schema)

    migrations.upgrade(url)
    assert "_trash$collection" in _trash_indexes(conn, schema)
    migrations.downgrade(url, "0009")
    assert _trash_indexes(conn, schema) == {"_trash$pkey", "_trash$purge"}
