"""Every date and date-time the validator accepts, stored through the API, is read by the typed
index expression on PostgreSQL as the instant the calendar says (never NULL, never an error)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgcube.query.fields import index_expression
from pgcube.query.sql import render
from tests.integration.management.conftest import USERS, create_database
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg
from tests.unit.management.test_validation import IsoValue, iso_values


def _expression(field: str, kind: str) -> str:
    typed = index_expression(field, kind)
    assert typed is not None
    return render(typed)


@pytest.fixture(scope="module")
def users(module_client: httpx.Client, module_account: Account) -> dict[str, Any]:
    """One logical database with the ``users`` collection, emptied by each example."""
    return create_database(module_client, module_account, collections=[USERS])["database"]  # type: ignore[no-any-return]


@settings(max_examples=40, deadline=None)
@given(values=st.lists(iso_values(), min_size=1, max_size=25))
def test_accepted_dates_are_indexed_as_their_instant(
    module_client: httpx.Client,
    module_account: Account,
    pg: SyncPg,
    users: dict[str, Any],
    values: list[IsoValue],
) -> None:
    """``signup_date`` is a date field, ``seen_at`` a date-time field of ``users``; both have the
    typed index that management created, so the insert itself evaluates the expression."""
    schema = users["dbName"]
    pg.execute(f'DELETE FROM "{schema}"."users"')
    docs = [
        {"email": str(n), "signup_date": v.text, **({"seen_at": v.text} if v.has_time else {})}
        for n, v in enumerate(values)
    ]
    inserted = module_client.post(
        f"/api/{users['id']}",
        json={"op": "collection.insert", "collection": "users", "data": docs},
        headers=module_account.headers,
    )
    assert inserted.status_code == 200, inserted.text
    rows = pg.fetch(
        f"SELECT (data->>'email')::int AS n, {_expression('signup_date', 'date')} AS date_instant, "
        f"{_expression('seen_at', 'datetime')} AS datetime_instant "
        f'FROM "{schema}"."users" ORDER BY 1'
    )
    assert [row["n"] for row in rows] == list(range(len(values)))
    for row, value in zip(rows, values, strict=True):
        assert row["date_instant"] == value.instant, value.text
        assert row["datetime_instant"] == (value.instant if value.has_time else None), value.text
