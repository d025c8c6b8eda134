"""The DDL of logical databases (schemas) and collections (tables), as SQL text (SPEC §10).

Pure: functions here return statements; ``pgcube.management.repository``
runs them in the request's transaction, next to the catalog rows.

A collection's table::

    _key          text PRIMARY KEY          -- constraint "<table>$pkey"
    _userkey      text
    _created_at   timestamptz NOT NULL DEFAULT now()
    _modified_at  timestamptz NOT NULL DEFAULT now()
    data          jsonb NOT NULL            -- the document without its system fields (an object)

with the indexes ``"<table>$data"`` (GIN ``jsonb_path_ops``, pending list of at most
``GIN_PENDING_LIST_KB`` kB: ADR 0010),
``"<table>$created"`` (B-tree ``(_created_at, _key)``) and ``"<table>$f$<field>"``
(one typed B-tree expression index per declared scalar field, ``(<typed
expression> NULLS FIRST, _key)``, the expression from ``pgcube.query.fields``).

A schema's ``_trash`` table (deleted and archived documents)::

    collection   text NOT NULL              -- the collection the document came from
    _ref         text NOT NULL              -- the operation's reference (restore by it)
    kind         text NOT NULL              -- 'deleted' | 'archived'
    _key, _userkey, _created_at, _modified_at, data   -- the document's row, as it was
    trashed_at   timestamptz NOT NULL DEFAULT now()
    PRIMARY KEY (_ref, collection, _key)    -- restore: WHERE _ref = $1 AND collection = $2
    INDEX (kind, trashed_at)                -- purge: WHERE kind = 'deleted' AND trashed_at < $1

Restoring is ``INSERT INTO <table> (_key, _userkey, _created_at, _modified_at, data)
SELECT _key, _userkey, _created_at, _modified_at, data FROM _trash WHERE ...``.

End users and access rules (SPEC §11, ADR 0018) come from two SQL functions of
migration 0006, so that existing databases and new ones get the same:
``pgcube.setup_end_users(schema)`` (``_users``, ``_sessions``, ``_otps``, the
trash opened to ``pgcube_web`` for the caller's own rows) and
``pgcube.apply_access(schema, table, read, write)`` (row-level security, one
policy per command for ``pgcube_web``, ``_userkey`` stamped by its default).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pgcube.management.models import (
    SCALAR_TYPES,
    Access,
    FieldSpec,
    created_index_name,
    field_index_name,
    gin_index_name,
    primary_key_name,
)
from pgcube.management.naming import quote_literal, relation_name
from pgcube.query.fields import NULLABLE_FIELDS, ROW_COLUMNS, SYSTEM_COLUMNS, index_definition_sql
from pgcube.query.sql import qualified, quote_ident
from pgcube.query.writes import TRASH_TABLE

TRASH_COLUMNS = ("collection", "_ref", "kind", *ROW_COLUMNS, "trashed_at")
"""The columns of every ``_trash`` table, in order."""

TRASH_KINDS = ("deleted", "archived")

GIN_PENDING_LIST_KB = 64
"""``gin_pending_list_limit`` of every collection's GIN index (ADR 0010), PostgreSQL's minimum.

The GIN index keeps ``fastupdate`` (writes append to a pending list and move it
into the index in bulk), but a list of at most 64 kB instead of 4 MB: a scan
reads the whole list and the planner charges every page of it, so a long list
turned equalities into sequential scans right after writes. Measured
(``python -m bench.gin_pending``): inserts of 1,000 documents as fast as with
4 MB; ``fastupdate = off`` was four times slower."""

GIN_OPTIONS = f"gin_pending_list_limit = {GIN_PENDING_LIST_KB}"


def _system_columns(*, defaults: bool) -> str:
    """The system columns of a table's definition (``query.fields.SYSTEM_COLUMNS``), one a line;
    with ``defaults``, the timestamps default to now() (a collection's table, not its trash)."""
    lines = []
    for name, kind in SYSTEM_COLUMNS.items():
        column = f"    {name:<14}{kind}{'' if name in NULLABLE_FIELDS else ' NOT NULL'}"
        lines.append(column + (" DEFAULT now()" if defaults and kind == "timestamptz" else "") + ",")
    return "\n".join(lines)


def create_schema(schema: str, *, database_name: str, database_id: str, owner: str) -> list[str]:
    """The schema, its comment (naming the database and its owner) and its ``_trash`` table."""
    comment = f"pgcube database {database_name!r} (id {database_id}), owner {owner}"
    return [
        f"CREATE SCHEMA {quote_ident(schema)}",
        f"COMMENT ON SCHEMA {quote_ident(schema)} IS {quote_literal(comment)}",
        *create_trash(schema, database_name=database_name),
        f"SELECT pgcube.setup_end_users({quote_literal(schema)})",
        f"SELECT pgcube.setup_files({quote_literal(schema)})",
    ]


def create_trash(schema: str, *, database_name: str) -> list[str]:
    table = qualified(schema, TRASH_TABLE)
    kinds = ", ".join(quote_literal(kind) for kind in TRASH_KINDS)
    kind_check = quote_ident(relation_name(TRASH_TABLE, "kind"))
    comment = f"pgcube: deleted and archived documents of database {database_name!r}"
    return [
        f"""CREATE TABLE {table} (
    collection    text NOT NULL,
    _ref          text NOT NULL,
    kind          text NOT NULL CONSTRAINT {kind_check} CHECK (kind IN ({kinds})),
{_system_columns(defaults=False)}
    data          jsonb NOT NULL,
    trashed_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT {quote_ident(primary_key_name(TRASH_TABLE))} PRIMARY KEY (_ref, collection, _key)
)""",
        f"CREATE INDEX {quote_ident(relation_name(TRASH_TABLE, 'purge'))} ON {table} (kind, trashed_at)",
        f"COMMENT ON TABLE {table} IS {quote_literal(comment)}",
    ]


def create_collection(
    schema: str,
    table: str,
    fields: Sequence[FieldSpec],
    access: Access,
    *,
    database_name: str,
    database_id: str,
) -> list[str]:
    """The table of one collection, its comment, its indexes and its access rules."""
    qualified_table = qualified(schema, table)
    comment = f"pgcube collection {table!r} of database {database_name!r} (id {database_id})"
    data_is_object = quote_ident(relation_name(table, "object"))
    statements = [
        f"""CREATE TABLE {qualified_table} (
{_system_columns(defaults=True)}
    data          jsonb NOT NULL CONSTRAINT {data_is_object} CHECK (jsonb_typeof(data) = 'object'),
    CONSTRAINT {quote_ident(primary_key_name(table))} PRIMARY KEY (_key)
)""",
        f"COMMENT ON TABLE {qualified_table} IS {quote_literal(comment)}",
        f"CREATE INDEX {quote_ident(gin_index_name(table))} ON {qualified_table}"
        f" USING gin (data jsonb_path_ops) WITH ({GIN_OPTIONS})",
        f"CREATE INDEX {quote_ident(created_index_name(table))} ON {qualified_table} (_created_at, _key)",
    ]
    for spec in fields:
        if spec.indexed:
            statements.extend(create_field_index(schema, table, spec))
    statements.append(apply_access(schema, table, access))
    return statements


def apply_access(schema: str, table: str, access: Access) -> str:
    """The row-level security of a collection for its access rules (migration 0006's function)."""
    arguments = (schema, table, access.read.value, access.write.value)
    return f"SELECT pgcube.apply_access({', '.join(quote_literal(value) for value in arguments)})"


def create_field_index(schema: str, table: str, spec: FieldSpec) -> list[str]:
    """The typed B-tree expression index of one declared scalar field (DESIGN §4).

    The expression is the query compiler's (``pgcube.query.fields``): queries
    emit exactly the same one, so PostgreSQL matches them to this index.
    """
    definition = index_definition_sql(spec.name, spec.type) if spec.type in SCALAR_TYPES else None
    if definition is None:
        raise ValueError(f"only scalar fields are indexed, not {spec.type}")
    name = quote_ident(field_index_name(table, spec.name))
    comment = f"pgcube: declared field {spec.name!r} ({spec.type.value})"
    return [
        f"CREATE INDEX {name} ON {qualified(schema, table)} {definition}",
        f"COMMENT ON INDEX {quote_ident(schema)}.{name} IS {quote_literal(comment)}",
    ]


def upgrade_gin_indexes(lock_timeout_ms: int = 1000) -> str:
    """One idempotent statement giving the GIN index of every collection in the catalog the
    options ``create_collection`` gives new ones (collections made before ADR 0010).

    Cheap when there is nothing to do (one catalog query). ``ALTER INDEX ... SET``
    takes an ACCESS EXCLUSIVE lock on the index for an instant; an index busy for
    longer than ``lock_timeout_ms`` is skipped with a notice, for the next run.
    A longer pending list left behind moves into the index at the next insert.
    """
    setting = f"gin_pending_list_limit={GIN_PENDING_LIST_KB}"
    return f"""DO $pgcube$
DECLARE
    gin regclass;
BEGIN
    SET LOCAL lock_timeout = {int(lock_timeout_ms)};
    FOR gin IN
        SELECT i.indexrelid::regclass
        FROM pgcube.collections c
        JOIN pgcube.databases d ON d.id = c.database_id
        JOIN pg_namespace n ON n.nspname = d.schema_name
        JOIN pg_class t ON t.relnamespace = n.oid AND t.relname = c.name
        JOIN pg_index i ON i.indrelid = t.oid
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'gin'
        WHERE NOT coalesce(ic.reloptions @> ARRAY['{setting}'], false)
    LOOP
        BEGIN
            EXECUTE format('ALTER INDEX %s SET ({GIN_OPTIONS})', gin);
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE 'pgcube: % is busy; its GIN options are set at the next run', gin;
        END;
    END LOOP;
END
$pgcube$"""  # noqa: S608 (built from this module's constants only)


def drop_schema(schema: str) -> str:
    """Everything of a logical database; a schema already gone by hand is not an error."""
    return f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE"


def drop_tables(schema: str, tables: Iterable[str]) -> str:
    names = ", ".join(qualified(schema, table) for table in tables)
    return f"DROP TABLE IF EXISTS {names}"


def script(statements: Iterable[str]) -> str:
    """Statements as one script: asyncpg runs it in one round trip (simple query protocol)."""
    return ";\n".join(statements) + ";"


__all__ = [
    "GIN_OPTIONS",
    "GIN_PENDING_LIST_KB",
    "TRASH_COLUMNS",
    "TRASH_KINDS",
    "apply_access",
    "create_collection",
    "create_field_index",
    "create_schema",
    "drop_schema",
    "drop_tables",
    "script",
    "upgrade_gin_indexes",
]
