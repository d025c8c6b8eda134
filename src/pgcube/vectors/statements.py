"""The SQL of the ``vdb.*`` ops, as text built from trusted parts (pure; cached by shape).

Identifiers come quoted from the catalog; values are parameters. A search is
one statement. Without a ``match`` it is the nearest-first order that
pgvector's HNSW index serves, in an inner query, with the score and the
threshold outside it. With a ``match`` (compiled by ``pgcube.query``,
parameters from ``$1``) it has two inner queries (ADR 0023):

* ``approx`` — the HNSW index with its iterative scan (``pgcube.db.pool`` turns
  it on for every pooled connection, and bounds it with
  ``hnsw.max_scan_tuples``): it reads on until ``limit`` rows pass the match,
  which is quick when matching rows lie near the query;
* ``exact`` — run only when ``approx`` came back short (matching rows far from
  the query, or few of them): the match alone (its GIN index) and an exact
  sort by distance (``+ 0`` keeps the index out of that order).

``relaxed_order`` may hand rows back slightly out of order: the outer query
sorts them again.
"""

# ruff: noqa: S608 - identifiers come quoted from the catalog, every value is a parameter

from __future__ import annotations

import functools

from pgcube.management.models import VectorSpec
from pgcube.query import document_sql


@functools.lru_cache(maxsize=1024)
def search(table_sql: str, spec: VectorSpec, where_sql: str, where_params: int) -> str:
    """Entries nearest to ``$v`` passing ``where_sql`` (none: ``""``), best first, with ``_score``:
    parameters ``where_params`` of the match, then the vector, the limit and the least score."""
    vector, limit, least = (f"${where_params + n}" for n in (1, 2, 3))
    distance = f"embedding <=> {vector}::real[]::{spec.column_type}"
    columns = f"_key, _userkey, _created_at, _modified_at, data, {distance} AS distance"
    where = f"WHERE {where_sql}\n    " if where_sql else ""
    approx = f"""SELECT {columns}
    FROM {table_sql}
    {where}ORDER BY {distance}
    LIMIT {limit}"""
    if not where_sql:
        hits = f"WITH hits AS MATERIALIZED (\n    {approx}\n)"
    else:
        hits = f"""WITH approx AS MATERIALIZED (
    {approx}
), exact AS MATERIALIZED (
    SELECT {columns}
    FROM {table_sql}
    WHERE ({where_sql}) AND (SELECT count(*) FROM approx) < {limit}
    ORDER BY ({distance}) + 0
    LIMIT {limit}
), hits AS (
    SELECT * FROM approx WHERE NOT EXISTS (SELECT FROM exact)
    UNION ALL
    SELECT * FROM exact
)"""
    return f"""{hits}
SELECT {document_sql()} || jsonb_build_object('_score', 1 - distance) AS entry
FROM hits WHERE 1 - distance >= {least}
ORDER BY distance"""


@functools.lru_cache(maxsize=1024)
def insert(table_sql: str, spec: VectorSpec) -> str:
    """One chunk: ``_key``, ``data``, the vector (``_userkey``: the column's default, the signed-in
    end user's under a web key)."""
    return f"INSERT INTO {table_sql} (_key, data, embedding) VALUES ($1, $2, $3::real[]::{spec.column_type})"
