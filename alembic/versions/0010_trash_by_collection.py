"""The trash of one collection, newest first: an index ``_trash$collection`` on
``(collection, trashed_at DESC NULLS LAST, _key)`` in every database's schema.

``collection.trashed`` (what a restore could put back, for the dashboard's trash page) reads
``WHERE collection = $1 … ORDER BY trashed_at DESC NULLS LAST, _key LIMIT $3``; without it, the only
indexes of ``_trash`` lead with ``_ref`` and ``kind``, and the listing read every collection's
trash. A new database's trash gets the index from ``management/ddl.create_trash``; this
migration gives it to the databases made before. The index is built in the migration's
transaction (``CREATE INDEX CONCURRENTLY`` cannot run in one): each trash is locked against
writes while its index builds, which a trash emptied by the purge makes short.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from pgcube.db.migrations import execute_script

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EACH_TRASH = r"""
DO $existing$
DECLARE
    database record;
BEGIN
    FOR database IN
        SELECT d.schema_name FROM pgcube.databases d
        JOIN pg_namespace n ON n.nspname = d.schema_name
        JOIN pg_class t ON t.relnamespace = n.oid AND t.relname = '_trash'
    LOOP
        EXECUTE format({statement}, database.schema_name);
    END LOOP;
END
$existing$;
"""

# The index's name and columns as management/ddl.create_trash gives them to a new database.
UPGRADE = _EACH_TRASH.format(
    statement="'CREATE INDEX IF NOT EXISTS \"_trash$collection\" ON %I._trash (collection, trashed_at DESC NULLS LAST, _key)'"
)

DOWNGRADE = _EACH_TRASH.format(statement="'DROP INDEX IF EXISTS %I.\"_trash$collection\"'")


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
