"""``pgcube.update_holds``: an update that breaks a rule fails inside its own statement (ADR 0013).

An update by ``_key`` (or any update of a collection that is not strict) runs
as one statement, without ``BEGIN``/``COMMIT``: its ``RETURNING`` rows pass
through this function, which raises SQLSTATE ``PCU01`` when a declared field
no longer fits or the document grew past the size limit. The error aborts the
statement, so nothing it changed stays; pgcube then runs the update again in a
transaction to name the field and the document, and rolls it back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from pgcube.db.migrations import execute_script

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE FUNCTION pgcube.update_holds(invalid text[], size integer, max_size integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
BEGIN
    IF cardinality(invalid) > 0 OR size > max_size THEN
        RAISE EXCEPTION 'pgcube: the update breaks a declared field or the document size limit'
            USING ERRCODE = 'PCU01';
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION pgcube.update_holds(text[], integer, integer) IS
    'pgcube: fails an UPDATE ... RETURNING statement whose result breaks a declared field or the size limit';
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script("DROP FUNCTION pgcube.update_holds(text[], integer, integer);")
