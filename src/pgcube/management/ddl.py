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
``"<table>$created"`` (B-tree ``(_created_at, _key)``), ``"<table>$f$<field>"``
(one typed B-tree expression index per declared scalar field, ``(<typed
expression> NULLS FIRST, _key)``, the expression from ``pgcube.query.fields``)
and ``"<table>$i$<field>$<field>…"`` (the collection's declared indexes, ADR 0025:
the same typed expressions, several fields, unique or not).

A schema's ``_trash`` table (deleted and archived documents)::

    collection   text NOT NULL              -- the collection the document came from
    _ref         text NOT NULL              -- the operation's reference (restore by it)
    kind         text NOT NULL              -- 'deleted' | 'archived'
    _key, _userkey, _created_at, _modified_at, data   -- the document's row, as it was
    trashed_at   timestamptz NOT NULL DEFAULT now()
    PRIMARY KEY (_ref, collection, _key)    -- restore: WHERE _ref = $1 AND collection = $2
    INDEX (kind, trashed_at)                -- purge: WHERE kind = 'deleted' AND trashed_at < $1
    INDEX (collection, trashed_at DESC NULLS LAST, _key)
                                            -- collection.trashed: WHERE collection = $1 ORDER BY
                                            -- trashed_at DESC NULLS LAST, _key LIMIT $3

The last index's order is the one ``query.compile_trashed`` renders, ``NULLS LAST`` included
(``trashed_at`` is never null, but PostgreSQL matches an index's order to a query's as written);
migration 0010 gave it to the databases made before.

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
    DeclaredIndex,
    FieldSpec,
    VectorSpec,
    created_index_name,
    embedding_index_name,
    field_index_name,
    gin_index_name,
    primary_key_name,
)
from pgcube.management.naming import quote_literal, relation_name
from pgcube.query.fields import (
    NULLABLE_FIELDS,
    ROW_COLUMNS,
    SYSTEM_COLUMNS,
    index_definition_sql,
    index_expression,
)
from pgcube.query.sql import qualified, quote_ident, render
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
        f"CREATE INDEX {quote_ident(relation_name(TRASH_TABLE, 'collection'))} ON {table} "
        "(collection, trashed_at DESC NULLS LAST, _key)",
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
    vectors: VectorSpec | None = None,
    declared: Sequence[DeclaredIndex] = (),
) -> list[str]:
    """The table of one collection, its comment, its indexes (``declared`` ones too: the table is
    new and empty, so a plain build in the request's transaction) and its access rules; with
    ``vectors``, a vector collection's (SPEC §13): ``embedding`` too, and its HNSW index for
    cosine distance."""
    kind = "vector collection" if vectors else "collection"
    comment = f"pgcube {kind} {table!r} of database {database_name!r} (id {database_id})"
    if vectors is None:
        statements = _document_table(schema, table, comment)
    else:
        comment += f", embeddings by {vectors.embedder}"
        statements = _document_table(
            schema, table, comment, f"    embedding     {vectors.column_type} NOT NULL,"
        )
        statements.append(
            f"CREATE INDEX {quote_ident(embedding_index_name(table))} ON {qualified(schema, table)}"
            f" USING hnsw (embedding {vectors.operator_class})"
        )
    for spec in fields:
        if spec.indexed:
            statements.extend(create_field_index(schema, table, spec))
    for index in declared:
        statements.extend(create_declared_index(schema, table, index, fields))
    statements.append(apply_access(schema, table, access))
    return statements


def _document_table(schema: str, table: str, comment: str, extra_column: str = "") -> list[str]:
    """A table of documents (the system columns, ``data``, maybe one more column), its comment,
    its GIN index and its creation-order index."""
    qualified_table = qualified(schema, table)
    data_is_object = quote_ident(relation_name(table, "object"))
    columns = f"{_system_columns(defaults=True)}\n"
    columns += f"    data          jsonb NOT NULL CONSTRAINT {data_is_object} CHECK (jsonb_typeof(data) = 'object'),\n"
    columns += f"{extra_column}\n" if extra_column else ""
    return [
        f"""CREATE TABLE {qualified_table} (
{columns}    CONSTRAINT {quote_ident(primary_key_name(table))} PRIMARY KEY (_key)
)""",
        f"COMMENT ON TABLE {qualified_table} IS {quote_literal(comment)}",
        f"CREATE INDEX {quote_ident(gin_index_name(table))} ON {qualified_table}"
        f" USING gin (data jsonb_path_ops) WITH ({GIN_OPTIONS})",
        f"CREATE INDEX {quote_ident(created_index_name(table))} ON {qualified_table} (_created_at, _key)",
    ]


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


def declared_expressions(index: DeclaredIndex, fields: Sequence[FieldSpec]) -> list[str]:
    """The typed expression of each field of a declared index, in its order: the compiler's
    (``pgcube.query.fields``), as for a field's own index, over the column ``data``."""
    types = {spec.name: spec.type for spec in fields}
    expressions = []
    for name in index.fields:
        expression = index_expression(name, types[name]) if name in types else None
        if expression is None:
            raise ValueError(f"only declared scalar fields are indexed, not {name!r}")
        expressions.append(render(expression))
    return expressions


def declared_values(index: DeclaredIndex) -> str:
    """A JSON object of a document's values of the index's fields, as the document holds them
    (``data``): what a duplicate-key error shows."""
    pairs = []
    for name in index.fields:
        path = ", ".join(quote_literal(part) for part in name.split("."))
        pairs.append(f"{quote_literal(name)}, jsonb_extract_path(data, {path})")
    return f"jsonb_build_object({', '.join(pairs)})"


def declared_index_columns(index: DeclaredIndex, fields: Sequence[FieldSpec]) -> list[str]:
    """The key columns of a declared index: each field's typed expression ``NULLS FIRST``, then
    ``_key`` unless it is unique.

    ``ORDER BY`` the fields (all ascending, or all descending) with ``_key`` as the tie-break is
    then one index scan, forwards or backwards, as for one field (``index_definition_sql``). A
    unique index leaves ``_key`` out: with it, every key would be unique.
    """
    columns = [f"{expression} NULLS FIRST" for expression in declared_expressions(index, fields)]
    return columns if index.unique else [*columns, "_key"]


def duplicated_values(schema: str, table: str, index: DeclaredIndex, fields: Sequence[FieldSpec]) -> str:
    """A query for the values of one group of documents a unique index cannot tell apart (grouped
    on the typed expressions, so ``1`` and ``1.0`` are one group; documents lacking a field are
    left out, as the index leaves them); no row when there is none."""
    expressions = declared_expressions(index, fields)
    present = " AND ".join(f"{expression} IS NOT NULL" for expression in expressions)
    return (
        f"SELECT (array_agg({declared_values(index)}))[1] FROM {qualified(schema, table)} "  # noqa: S608
        f"WHERE {present} GROUP BY {', '.join(expressions)} HAVING count(*) > 1 LIMIT 1"
    )


def create_declared_index(
    schema: str,
    table: str,
    index: DeclaredIndex,
    fields: Sequence[FieldSpec],
    *,
    concurrently: bool = False,
) -> list[str]:
    """A declared index and its comment: two statements, to run one at a time when
    ``concurrently`` (``CREATE INDEX CONCURRENTLY`` runs outside any transaction, and a script
    is one)."""
    name = quote_ident(index.name)
    kind = "UNIQUE INDEX" if index.unique else "INDEX"
    how = " CONCURRENTLY" if concurrently else ""
    columns = ", ".join(declared_index_columns(index, fields))
    listed = ", ".join(index.fields)
    comment = f"pgcube: declared {'unique ' if index.unique else ''}index on ({listed})"
    return [
        f"CREATE {kind}{how} {name} ON {qualified(schema, table)} ({columns})",
        f"COMMENT ON INDEX {quote_ident(schema)}.{name} IS {quote_literal(comment)}",
    ]


def drop_declared_index(schema: str, name: str) -> str:
    """A declared index, without blocking reads or writes of its table; one already gone (a
    failed build cleaned up, a drop by hand) is not an error."""
    return f"DROP INDEX CONCURRENTLY IF EXISTS {quote_ident(schema)}.{quote_ident(name)}"


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
    "create_declared_index",
    "create_field_index",
    "create_schema",
    "declared_expressions",
    "declared_index_columns",
    "declared_values",
    "drop_declared_index",
    "drop_schema",
    "drop_tables",
    "duplicated_values",
    "script",
    "upgrade_gin_indexes",
]
