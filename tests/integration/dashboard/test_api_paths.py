"""An id from the dashboard's URL reaches the API as one path segment: a ``?``, ``#`` or ``..`` in
it is the API's 404 or 400 for that odd id, never a call of another route or another resource."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.dashboard.app_support import create_database, files_of, submit
from tests.integration.dashboard.support import csrf_of
from tests.support.accounts import Account

ODD_IDS = ["{id}%3F", "{id}%3Fx=1", "{id}%23", "%2E%2E", "%2E"]
"""As the dashboard's URL names them: a real id (``{id}``) then ``?``, ``?x=1`` or ``#``; ``..``; ``.``."""


def _key_ids(http: httpx.Client, account: Account) -> list[str]:
    return [key["id"] for key in http.get("/core/api/v1/keys", headers=account.headers).json()]


@pytest.mark.parametrize("odd", ODD_IDS)
def test_revoking_an_odd_key_id_revokes_nothing(dashboard: httpx.Client, account: Account, odd: str) -> None:
    token = csrf_of(dashboard.get("/keys").text)
    created = dashboard.post("/keys", data={"name": "kept", "_csrf": token})
    assert created.status_code == 200
    (key_id,) = _key_ids(dashboard, account)
    answer = dashboard.post(f"/keys/{odd.format(id=key_id)}/revoke", data={"_csrf": token})
    assert answer.status_code in (400, 404), answer.text
    assert _key_ids(dashboard, account) == [key_id]


@pytest.mark.parametrize("odd", ODD_IDS)
def test_an_odd_database_id_reaches_no_database(dashboard: httpx.Client, account: Account, odd: str) -> None:
    database_id = create_database(dashboard, account)
    url = f"/databases/{database_id}/files"
    sent = submit(dashboard, url, url, {}, files={"file": ("kept.txt", b"kept", "text/plain")})
    assert sent.status_code == 303, sent.text
    file_key = sent.headers["location"].rsplit("/", 1)[1]
    token = csrf_of(dashboard.get(url).text)
    answer = dashboard.post(
        f"/databases/{odd.format(id=database_id)}/files/{file_key}/delete", data={"_csrf": token}
    )
    assert answer.status_code in (400, 404), answer.text
    assert [file["filename"] for file in files_of(dashboard, account, database_id)] == ["kept.txt"]
