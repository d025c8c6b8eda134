"""Files: each database's ``_files`` table and who may reach it (SPEC §12, ADR 0021).

* ``pgcube.setup_files(schema)`` — a database's ``_files`` table: the shape of a
  collection (the system columns and ``data``: the file object of SPEC §12
  without its ``url``), its GIN index for ``file.list``, a check on
  ``data->>'status'``, and row-level security for ``pgcube_web`` under the
  rules ``owner``/``owner`` (``pgcube.apply_access``).
* ``pgcube.storage_used(schema)`` — the bytes of a database's files for its quota,
  callable by ``pgcube_web`` (whose own view of ``_files`` is its rules').
* ``databases.files_access_read`` / ``files_access_write`` — the database's file
  rules (§11.4; default ``owner``), changed with ``POST /api/set_access`` and the
  collection name ``_files``.

Every existing database gets its ``_files`` table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from pgcube.db.migrations import execute_script

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = r"""
ALTER TABLE pgcube.databases
    ADD COLUMN files_access_read text NOT NULL DEFAULT 'owner'
        CONSTRAINT databases_files_access_read CHECK (files_access_read IN ('all', 'users', 'owner', 'none')),
    ADD COLUMN files_access_write text NOT NULL DEFAULT 'owner'
        CONSTRAINT databases_files_access_write CHECK (files_access_write IN ('all', 'users', 'owner', 'none'));
COMMENT ON COLUMN pgcube.databases.files_access_read IS 'pgcube: who may read the files of _files (SPEC §11.4)';
COMMENT ON COLUMN pgcube.databases.files_access_write IS 'pgcube: who may upload and change files (SPEC §11.4)';

CREATE FUNCTION pgcube.setup_files(schema_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($t$
        CREATE TABLE %1$I._files (
            _key          text NOT NULL,
            _userkey      text,
            _created_at   timestamptz NOT NULL DEFAULT now(),
            _modified_at  timestamptz NOT NULL DEFAULT now(),
            data          jsonb NOT NULL
                CONSTRAINT "_files$data_is_object" CHECK (jsonb_typeof(data) = 'object')
                CONSTRAINT "_files$status" CHECK (data->>'status' IN ('pending', 'ready', 'failed')),
            CONSTRAINT "_files$pkey" PRIMARY KEY (_key)
        );
        COMMENT ON TABLE %1$I._files IS
            'pgcube: the files of this database (file.*): their objects in data, their bytes in the store';
        CREATE INDEX "_files$data" ON %1$I._files USING gin (data jsonb_path_ops)
            WITH (gin_pending_list_limit = 64);
        CREATE INDEX "_files$created" ON %1$I._files (_created_at, _key);
    $t$, schema_name);
    PERFORM pgcube.apply_access(schema_name, '_files', 'owner', 'owner');
END
$$;
COMMENT ON FUNCTION pgcube.setup_files(text) IS
    'pgcube: a database''s _files table (file metadata), under the access rules owner/owner';

CREATE FUNCTION pgcube.storage_used(schema_name text) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    used bigint;
BEGIN
    EXECUTE format($q$SELECT coalesce(sum((data->>'filesize')::bigint), 0)::bigint FROM %I._files
                      WHERE data->>'status' <> 'failed'$q$, schema_name) INTO used;
    RETURN used;
END
$$;
COMMENT ON FUNCTION pgcube.storage_used(text) IS
    'pgcube: the bytes of a database''s files, pending ones at their announced size (the storage quota)';
REVOKE EXECUTE ON FUNCTION pgcube.storage_used(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgcube.storage_used(text) TO pgcube_web;

DO $existing$
DECLARE
    database record;
BEGIN
    FOR database IN
        SELECT d.schema_name FROM pgcube.databases d
        JOIN pg_namespace n ON n.nspname = d.schema_name
    LOOP
        PERFORM pgcube.setup_files(database.schema_name);
    END LOOP;
END
$existing$;
"""

DOWNGRADE = r"""
DO $existing$
DECLARE
    database record;
BEGIN
    FOR database IN
        SELECT d.schema_name FROM pgcube.databases d JOIN pg_namespace n ON n.nspname = d.schema_name
    LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I._files', database.schema_name);
    END LOOP;
END
$existing$;
DROP FUNCTION pgcube.storage_used(text);
DROP FUNCTION pgcube.setup_files(text);
ALTER TABLE pgcube.databases DROP COLUMN files_access_read, DROP COLUMN files_access_write;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
