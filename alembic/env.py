"""Alembic environment: online migrations of the `pgcube` schema only.

The URL comes from the Alembic config's ``pgcube.url`` attribute (set by
``pgcube migrate`` / ``pgcube serve``). The driver is asyncpg, through
SQLAlchemy's async engine with our own connect function, so the same URLs
(including Unix-socket ones) work everywhere. An advisory lock serialises
concurrent migrators; the version table lives inside the `pgcube` schema.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

CONTROL_SCHEMA = "pgcube"
# Any constant works; it only has to be the same for every pgcube process.
MIGRATION_LOCK_ID = 0x70676375  # "pgcu"


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate looks at the control-plane schema and nothing else."""
    if type_ == "schema":
        return name == CONTROL_SCHEMA
    return True


def _run(connection: Connection) -> None:
    connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"))
    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {CONTROL_SCHEMA}"))
    context.configure(
        connection=connection,
        version_table_schema=CONTROL_SCHEMA,
        include_schemas=True,
        include_name=include_name,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    async def connect() -> Any:
        return await asyncpg.connect(url)

    engine = create_async_engine("postgresql+asyncpg://", async_creator=connect)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def main() -> None:
    url = context.config.attributes.get("pgcube.url")
    if not url:
        raise SystemExit("pgcube: no database URL given to the migrations")
    if context.is_offline_mode():
        raise SystemExit("pgcube: offline (SQL script) migrations are not supported")
    asyncio.run(_run_async(url))


main()
