"""The query compiler (SPEC §7, §9; DESIGN §3–§6): pure, no I/O.

Request parts go in; SQL text (built as a sqlglot tree, cached by shape) and
a tuple of parameters come out, ready for asyncpg on a connection with
pgcube's codecs (jsonb parameters as JSON bytes, jsonb results as bytes).

Reading::

    q = compile_find(collection, match, sort=..., projection=..., limit=..., cursor=...)
    rows = await conn.fetch(q.select.sql, *q.select.params)   # rows: (doc bytes, cursor bytes)
    total = await conn.fetchval(q.count.sql, *q.count.params) # unless count=False
    has_next = len(rows) > q.limit; next_cursor = q.next_cursor(rows[q.limit - 1]["cursor"])

Writing: ``compile_insert``, ``compile_delete``, ``compile_trash``, ``compile_restore``,
``compile_trashed`` (what a restore could put back)
and ``compile_purge_trash`` (``writes``: one statement each), ``compile_update`` (one
``UPDATE ... RETURNING`` for the mutation language); ``compile_where`` is the bare
WHERE condition, ``document_sql`` the document with its system fields, and
``index_definition_sql`` the B-tree index of a declared field.

Explaining (``collection.explain``): ``advise`` reads a request and the plan PostgreSQL chose
for it (``plans``: the indexes, the rows) and says what would let an index serve it.

Every rejection is ``InvalidQuery`` (criteria, sort, projection, paging) or
``ValidationError`` (mutations) with ``details.pointer``.
"""

from pgcube.query import plans
from pgcube.query.advice import Advice, Subject, advise
from pgcube.query.cache import SQL_CACHE
from pgcube.query.compiler import (
    DDO_POINTERS,
    REST_POINTERS,
    Collection,
    Compiled,
    FindQuery,
    Pointers,
    compile_count,
    compile_find,
    compile_where,
    matches_everything,
)
from pgcube.query.cursor import decode_cursor, encode_cursor
from pgcube.query.fields import (
    FieldType,
    document_expression,
    document_sql,
    index_definition_sql,
    index_expression,
)
from pgcube.query.ir import Limits
from pgcube.query.mutate import UPDATE_REFUSED, UpdateQuery, compile_update
from pgcube.query.writes import (
    TRASH_TABLE,
    compile_delete,
    compile_insert,
    compile_purge_trash,
    compile_restore,
    compile_trash,
    compile_trashed,
)

__all__ = [
    "DDO_POINTERS",
    "REST_POINTERS",
    "SQL_CACHE",
    "TRASH_TABLE",
    "UPDATE_REFUSED",
    "Advice",
    "Collection",
    "Compiled",
    "FieldType",
    "FindQuery",
    "Limits",
    "Pointers",
    "Subject",
    "UpdateQuery",
    "advise",
    "compile_count",
    "compile_delete",
    "compile_find",
    "compile_insert",
    "compile_purge_trash",
    "compile_restore",
    "compile_trash",
    "compile_trashed",
    "compile_update",
    "compile_where",
    "decode_cursor",
    "document_expression",
    "document_sql",
    "encode_cursor",
    "index_definition_sql",
    "index_expression",
    "matches_everything",
    "plans",
]
