"""``file.list`` is ``collection.find`` over ``_files``: the same statements, the same indexes
(EXPLAIN on a table of 4,000 file objects): a match reads the GIN index ``_files$data`` (its
count, as for collections: a page in the default order may rather walk ``_files$created``,
ADR 0010), the default order ``_files$created`` without a sort."""

from __future__ import annotations

import httpx
import pytest

from pgcube.files.models import FILE_FIELDS
from pgcube.query import Collection, compile_count, compile_find
from tests.integration.files.support import new_files_db
from tests.integration.query.test_explain import index_used, node_types, plan_of
from tests.support.live import LiveServer
from tests.support.sync_pg import SyncPg

TYPES = ("image/png", "image/jpeg", "application/pdf", "text/plain")


@pytest.fixture(scope="module")
def files(module_client: httpx.Client, live_server: LiveServer, pg: SyncPg) -> Collection:
    db = new_files_db(module_client, live_server.settings, pg)
    pg.execute(
        f"""INSERT INTO "{db.schema}"._files (_key, data)
            SELECT 'f' || i, jsonb_build_object(
                'filename', 'file' || i || '.bin', 'filesize', i * 13 % 100000,
                'content_type', ($2::text[])[1 + i % 4], 'fileclass', 'file', 'acl', 'private',
                'object_key', $1 || '/f' || i, 'metadata', jsonb_build_object('album', 'a' || i % 40),
                'status', CASE WHEN i % 10 = 0 THEN 'pending' ELSE 'ready' END)
            FROM generate_series(1, 4000) AS i""",
        db.id,
        list(TYPES),
    )
    pg.execute(f'ANALYZE "{db.schema}"._files')
    return Collection(schema=db.schema, table="_files", fields={f.name: f.type.value for f in FILE_FIELDS})


@pytest.fixture
def no_seqscan(pg: SyncPg) -> None:
    pg.execute("SET enable_seqscan = off")


@pytest.mark.usefixtures("no_seqscan")
@pytest.mark.parametrize(
    "match", [{"content_type": "image/png"}, {"metadata.album": "a7"}, {"status": "pending", "filesize": 546}]
)
def test_a_match_uses_the_gin_index(files: Collection, pg: SyncPg, match: dict[str, object]) -> None:
    try:
        q = compile_count(files, match)
        assert "_files$data" in index_used(plan_of(pg, q.sql, q.params))
    finally:
        pg.execute("RESET enable_seqscan")


def test_the_default_order_reads_the_created_index(files: Collection, pg: SyncPg) -> None:
    q = compile_find(files, None, limit=20, count=False)
    plan = plan_of(pg, q.select.sql, q.select.params)
    assert "_files$created" in index_used(plan)
    assert "Sort" not in node_types(plan)
