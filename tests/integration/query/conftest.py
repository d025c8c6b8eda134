from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.query.support import drop_schema, new_schema
from tests.support.sync_pg import SyncPg


@pytest.fixture(scope="module")
def schema(pg: SyncPg) -> Iterator[str]:
    name = new_schema(pg)
    yield name
    drop_schema(pg, name)
