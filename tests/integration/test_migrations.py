"""Alembic owns exactly the `pgcube` schema: up from empty, idempotent, reversible."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pgcube.db import migrations
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
    assert conn.fetchval("SELECT version_num FROM pgcube.alembic_version") == "0007"
    assert (
        conn.fetchval("SELECT to_regprocedure('pgcube.update_holds(text[], integer, integer)')") is not None
    )
    assert conn.fetchval("SELECT to_regclass('public.bystander')") is not None
    assert conn.fetchval("SELECT to_regclass('public.alembic_version')") is None


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
