"""Give the GIN index of every existing collection a 64 kB pending list (ADR 0010).

Collections created before ADR 0010 fill their GIN index through the default
4 MB pending list, which every read scans and the planner charges for, so an
equality right after writes plans as a sequential scan. New collections get
the option from ``pgcube.management.ddl``; this revision sets it on the old
ones, once, through the same statement (``ddl.upgrade_gin_indexes``). An
index busy for more than ten seconds is skipped with a notice: docs/psql.md
shows the ``ALTER INDEX`` to run by hand.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from pgcube.db.migrations import execute_script
from pgcube.management.ddl import upgrade_gin_indexes

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    execute_script(upgrade_gin_indexes(lock_timeout_ms=10_000))


def downgrade() -> None:
    """Nothing to undo: the option only makes reads right after writes cheaper."""
