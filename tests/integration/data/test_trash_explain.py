"""``collection.trashed`` reads one collection's trash through ``_trash$collection``, in its
order (newest first, then ``_key``), and stops at the limit: EXPLAIN on a trash of 40,000 entries
across 4 collections."""

from __future__ import annotations

import pytest

from pgcube.query import Collection, compile_trashed
from tests.integration.data.conftest import Db
from tests.integration.query.test_explain import index_used, node_types, plan_of
from tests.support.sync_pg import SyncPg

RETENTION = 30 * 24 * 3600


@pytest.fixture
def trash(db: Db, pg: SyncPg) -> str:
    """The schema of ``db``, its trash filled with deleted and archived entries of 4 collections."""
    schema: str = pg.fetchval("SELECT schema_name FROM pgcube.databases WHERE id = $1", db.id)
    pg.execute(
        f"""INSERT INTO "{schema}"._trash (collection, _ref, kind, _key, _created_at, _modified_at, data,
                                          trashed_at)
            SELECT 'c' || i % 4, md5(i::text), CASE WHEN i % 3 = 0 THEN 'archived' ELSE 'deleted' END,
                   'k' || i, now(), now(), jsonb_build_object('n', i), now() - make_interval(secs => i)
            FROM generate_series(1, 40000) AS i"""
    )
    pg.execute(f'ANALYZE "{schema}"._trash')
    return schema


def test_the_trash_of_a_collection_reads_its_index_in_order(trash: str, pg: SyncPg) -> None:
    listing = compile_trashed(
        Collection(schema=trash, table="c3", fields={}), deleted_within=RETENTION, limit=200
    )
    plan = plan_of(pg, listing.sql, listing.params)
    assert index_used(plan) == {"_trash$collection"}
    assert not {"Sort", "Incremental Sort", "Seq Scan"} & set(node_types(plan))
    assert plan["Node Type"] == "Limit"
