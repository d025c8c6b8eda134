"""Every dashboard route, read from the app's own route table, walked three ways (RELIABILITY D1 and
the dashboard's CSRF promise, ADR 0027):

* a signed-in browser that leaves the CSRF token out is refused (403) on every state-changing route,
  and nothing changes;
* another signed-in account, naming the first account's database (or key), gets the API's 404 on
  every route that takes one, sees nothing of it, and changes nothing;
* a browser with no session is sent to the sign-in page on every page but the public ones, and
  refused on every state-changing route (the public forms too: they carry the token as well).

A control (``test_the_owner_sees_every_page_and_everything_the_walks_look_for``) shows the walks are
fair: the ids in their paths are the owner's real ones, and what they look for does show to the owner.

A new dashboard route is walked the day it appears: its path parameters must be ones the owner
prepared (``Owned.path_values``) and a state-changing route needs a form in ``forms`` —
``test_every_route_can_be_walked`` fails until it has one.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from pgcube.app import create_app
from pgcube.dashboard.session import CSRF_HEADER
from pgcube.settings import Settings
from tests.integration.dashboard.app_support import App, files_of
from tests.integration.dashboard.support import csrf_of, signed_in
from tests.integration.vectors.support import pgvector_installed
from tests.support.accounts import DEFAULT_PASSWORD, Account, create_api_key, new_account, unique_email
from tests.support.live import LiveServer
from tests.support.sync_pg import SyncPg

PUBLIC = {"/", "/sign-in", "/register", "/sign-out"}
"""The paths a signed-out browser may use (``/`` sends it on to ``/sign-in``; ``/sign-out`` is a form)."""
_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    """The route's template without its parameters' types: ``/databases/{database_id}``."""

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def parameters(self) -> list[str]:
        return _PARAMETER.findall(self.path)

    @property
    def safe(self) -> bool:
        return self.method == "GET"

    def url(self, values: dict[str, str]) -> str:
        return _PARAMETER.sub(lambda found: values[found.group(1)], self.path)


@functools.cache
def dashboard_routes() -> tuple[Route, ...]:
    """The routes whose handlers are the dashboard's (pgcube.dashboard), as the app serves them."""
    found = set()
    for route in create_app(Settings()).routes:
        for handler in getattr(route, "route_handlers", ()):
            if not handler.fn.__module__.startswith("pgcube.dashboard."):
                continue
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                found.add(Route(method, _PARAMETER.sub(r"{\1}", route.path)))
    return tuple(sorted(found, key=lambda route: (route.path, route.method)))


def walked(routes: Iterable[Route]) -> list[Any]:
    """pytest's parameters, one per route, each named ``METHOD path``."""
    return [pytest.param(route, id=route.id) for route in routes]


STATE_CHANGING = walked(route for route in dashboard_routes() if not route.safe)
OWNERS_THINGS = walked(route for route in dashboard_routes() if route.parameters or route.id == "POST /keys")
"""The routes that name one of the owner's things: in their path, or (``POST /keys``) in their form."""
SIGNED_OUT = walked(route for route in dashboard_routes() if not (route.safe and route.path in PUBLIC))


# --- what the owner prepared, through the API ------------------------------------------------------


@dataclass(frozen=True)
class Owned:
    """One of each thing a dashboard path names, made by the owner through the API."""

    account: Account
    database_id: str
    name: str
    collection: str
    document_key: str
    trash_ref: str
    index: str
    user_key: str
    file_key: str
    key_id: str
    vectors: str | None
    """The vector collection (None where PostgreSQL has no pgvector)."""
    secrets: tuple[str, ...]
    """What only the owner may see: names, keys, contents, emails."""

    @property
    def path_values(self) -> dict[str, str]:
        return {
            "database_id": self.database_id,
            "collection": self.collection,
            "key_id": self.key_id,
            "user_key": self.user_key,
            "file_key": self.file_key,
        }


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def owned(module_client: httpx.Client, module_account: Account, pg: SyncPg) -> Owned:
    http, headers = module_client, module_account.headers
    app = App(http, module_account)
    tag = secrets.token_hex(4)
    collection, email = f"ledger_{tag}", f"owner-user-{tag}@example.com"
    _ok(
        http.post(
            "/api/add_collection",
            json={
                "database_id": app.id,
                "collections": [
                    {
                        "name": collection,
                        "fields": [{"name": "note", "type": "string"}, {"name": "tag", "type": "string"}],
                        "indexes": [{"fields": ["note"]}],
                    }
                ],
            },
            headers=headers,
        ),
        201,
    )
    notes = [f"kept note {tag}", f"trashed note {tag}"]
    ddo = f"/api/{app.id}"
    inserted = _ok(
        http.post(
            ddo,
            json={"op": "collection.insert", "collection": collection, "data": [{"note": n} for n in notes]},
            headers=headers,
        )
    )["data"]
    trashed = _ok(
        http.post(
            ddo,
            json={"op": "collection.delete", "collection": collection, "match": {"note": notes[1]}},
            headers=headers,
        )
    )["data"]
    app.sign_up(email, f"Owner's user {tag}")
    file_name = f"owner-plans-{tag}.txt"
    _ok(
        http.post(
            f"/api/{app.id}/files",
            data={"public_read": "false"},
            files={"file": (file_name, f"plans {tag}".encode(), "text/plain")},
            headers=headers,
        ),
        201,
    )
    (file,) = files_of(http, module_account, app.id)
    key_name = f"owner key {tag}"
    create_api_key(http, module_account, database_id=app.id, name=key_name)
    (key,) = [key for key in _ok(http.get("/core/api/v1/keys", headers=headers)) if key["name"] == key_name]
    vectors, vector_text = None, f"owner vector text {tag}"
    if pgvector_installed(pg):
        vectors = f"notes_{tag}"
        _ok(
            http.post(
                ddo,
                json={"op": "vdb.insert", "collection": vectors, "data": [{"content": vector_text}]},
                headers=headers,
            )
        )
    metadata = _ok(http.get("/api/get_metadata", params={"database_id": app.id}, headers=headers))["data"]
    (ledger,) = [described for described in metadata["collections"] if described["name"] == collection]
    (index,) = [index["name"] for index in ledger["indexes"] if index.get("declared")]
    keys = [document["_key"] for document in inserted]
    return Owned(
        account=module_account,
        database_id=app.id,
        name=metadata["displayName"],
        collection=collection,
        document_key=keys[0],
        trash_ref=trashed["_ref"],
        index=index,
        user_key=app.user(email)["_userkey"],
        file_key=file["_key"],
        key_id=key["id"],
        vectors=vectors,
        secrets=(
            metadata["displayName"],
            metadata["dbName"],
            collection,
            *keys,
            *notes,
            email,
            file_name,
            key_name,
            *([vectors, vector_text] if vectors else []),
        ),
    )


def snapshot(http: httpx.Client, owned: Owned) -> dict[str, Any]:
    """The owner's keys, databases and prepared database as the API answers them."""
    headers, database_id = owned.account.headers, owned.database_id
    params = {"database_id": database_id}

    def ddo(body: dict[str, Any]) -> Any:
        return _ok(http.post(f"/api/{database_id}", json=body, headers=headers))["data"]

    return {
        # last_used_at is written once a minute, off the request path: not a change a request made.
        "keys": [
            {name: value for name, value in key.items() if name != "last_used_at"}
            for key in _ok(http.get("/core/api/v1/keys", headers=headers))
        ],
        "databases": _ok(http.get("/api/list_databases", params={"page_size": 1000}, headers=headers))[
            "data"
        ],
        "metadata": _ok(http.get("/api/get_metadata", params=params, headers=headers)),
        "collections": _ok(http.get("/api/list_collections", params=params, headers=headers)),
        "documents": ddo({"op": "collection.find", "collection": owned.collection, "limit": 1000}),
        "trash": ddo({"op": "collection.trashed", "collection": owned.collection}),
        "users": _ok(http.get("/api/end_users", params=params, headers=headers))["data"],
        "auth_settings": _ok(http.get("/api/auth_settings", params=params, headers=headers)),
        # A file's signed link is made anew (and expires later) at each call: the file is the rest.
        "files": [{**file, "url": None} for file in ddo({"op": "file.list"})],
    }


def forms(owned: Owned) -> dict[str, dict[str, Any]]:
    """For each state-changing route: a form that would change something of the owner's were it
    taken (``httpx`` keyword arguments) — but enable (its user is enabled already), and sign-in and
    register, whose changes are the browser's and a new account's."""
    upload = {"file": ("walk.txt", b"walked", "text/plain")}
    return {
        "POST /sign-in": {"data": {"email": owned.account.email, "password": owned.account.password}},
        "POST /register": {"data": {"email": unique_email("walk"), "password": DEFAULT_PASSWORD}},
        "POST /sign-out": {"data": {}},
        "POST /keys": {"data": {"name": "walked", "kind": "server", "database_id": owned.database_id}},
        "POST /keys/{key_id}/revoke": {"data": {}},
        "POST /databases": {"data": {"db_name": f"walked_{secrets.token_hex(4)}"}},
        "POST /databases/{database_id}/add-collection": {"data": {"body": '[{"name": "walked"}]'}},
        "POST /databases/{database_id}/create-index": {
            "data": {"collection": owned.collection, "fields": "tag", "unique": "on"}
        },
        "POST /databases/{database_id}/drop-index": {
            "data": {"collection": owned.collection, "name": owned.index}
        },
        "POST /databases/{database_id}/drop-collection": {"data": {"collection": owned.collection}},
        "POST /databases/{database_id}/drop": {
            "data": {"confirmation": owned.name, "database_name": owned.name}
        },
        "POST /databases/{database_id}/collections/{collection}": {
            "data": {"op": "delete", "key": owned.document_key}
        },
        "POST /databases/{database_id}/collections/{collection}/trash": {"data": {"ref": owned.trash_ref}},
        "POST /databases/{database_id}/collections/{collection}/import": {
            "data": {"mode": "insert"},
            "files": {"json_file": ("walk.json", b'[{"note": "walked"}]', "application/json")},
        },
        "POST /databases/{database_id}/collections/{collection}/access": {
            "data": {"read": "all", "write": "all"}
        },
        "POST /databases/{database_id}/users/{user_key}/disable": {"data": {}},
        "POST /databases/{database_id}/users/{user_key}/enable": {"data": {}},
        "POST /databases/{database_id}/users/{user_key}/delete": {"data": {}},
        "POST /databases/{database_id}/auth-settings": {"data": {}},  # every switch off
        "POST /databases/{database_id}/files": {"data": {"public_read": "on"}, "files": upload},
        "POST /databases/{database_id}/files/{file_key}/delete": {"data": {}},
        "POST /databases/{database_id}/vectors": {
            "data": {"collection": owned.vectors or "notes", "content": "walked"}
        },
    }


def queries(owned: Owned) -> dict[str, dict[str, str]]:
    """Query strings that make a page read more of the owner's database than its first view. Without
    pgvector a vector search answers the API's 501 on its page (test_vectors.py): none is walked."""
    vector_search = (
        {"GET /databases/{database_id}/vectors": {"collection": owned.vectors, "q": "owner"}}
        if owned.vectors
        else {}
    )
    return {
        "GET /databases/{database_id}/collections/{collection}": {"edit": owned.document_key},
        "GET /databases/{database_id}/collections/{collection}/query": {
            "match": '{"note": {"$exists": true}}'
        },
        **vector_search,
    }


def request_of(route: Route, owned: Owned) -> tuple[str, dict[str, Any]]:
    """The route's URL with the owner's things in it, and its form or query."""
    url = route.url(owned.path_values)
    if route.safe:
        return url, {"params": queries(owned).get(route.id, {})}
    return url, dict(forms(owned)[route.id])


# --- the browsers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def intruder_account(module_client: httpx.Client, pg: SyncPg) -> Account:
    return new_account(module_client, pg)


@pytest.fixture(scope="module")
def owner_browser(live_server: LiveServer, owned: Owned) -> Iterator[httpx.Client]:
    with live_server.client() as http:
        yield signed_in(http, owned.account)


@pytest.fixture(scope="module")
def intruder_browser(live_server: LiveServer, intruder_account: Account) -> Iterator[httpx.Client]:
    with live_server.client() as http:
        yield signed_in(http, intruder_account)


@pytest.fixture(scope="module")
def anonymous_browser(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as http:
        yield http


# --- the walks -------------------------------------------------------------------------------------


def test_every_route_can_be_walked(owned: Owned) -> None:
    routes = dashboard_routes()
    ids = {route.id for route in routes}
    assert {"GET /keys", "POST /keys", "GET /databases/{database_id}"} <= ids, ids
    assert {route.path for route in routes} >= PUBLIC, "a public page is gone: update PUBLIC"
    assert not [route for route in routes if route.path.startswith(("/api", "/core", "/static"))]
    unknown = {name for route in routes for name in route.parameters} - set(owned.path_values)
    assert unknown == set(), "prepare one of these in owned() and add it to Owned.path_values"
    missing = {route.id for route in routes if not route.safe} - set(forms(owned))
    assert missing == set(), "add a form for the new route to forms()"


@pytest.mark.parametrize("route", STATE_CHANGING)
def test_a_request_without_the_csrf_token_is_refused_and_changes_nothing(
    route: Route, owner_browser: httpx.Client, module_client: httpx.Client, owned: Owned
) -> None:
    url, kwargs = request_of(route, owned)
    before = snapshot(module_client, owned)
    answer = owner_browser.request(route.method, url, **kwargs)
    assert answer.status_code == 403, answer.text
    assert snapshot(module_client, owned) == before
    assert owner_browser.get("/keys").status_code == 200, "the browser is still signed in"


@pytest.mark.parametrize("route", OWNERS_THINGS)
def test_another_account_gets_404_sees_nothing_and_changes_nothing(
    route: Route, intruder_browser: httpx.Client, module_client: httpx.Client, owned: Owned
) -> None:
    url, kwargs = request_of(route, owned)
    headers = {} if route.safe else {CSRF_HEADER: csrf_of(intruder_browser.get("/keys").text)}
    before = snapshot(module_client, owned)
    answer = intruder_browser.request(route.method, url, headers=headers, **kwargs)
    assert answer.status_code == 404, answer.text
    expected = "API key not found" if "{key_id}" in route.path else "Database not found"
    assert expected in answer.text
    leaked = [secret for secret in owned.secrets if secret in answer.text]
    assert leaked == [], answer.text
    assert snapshot(module_client, owned) == before


@pytest.mark.parametrize("route", SIGNED_OUT)
def test_a_browser_without_a_session_is_sent_to_sign_in_or_refused(
    route: Route, anonymous_browser: httpx.Client, module_client: httpx.Client, owned: Owned
) -> None:
    url, kwargs = request_of(route, owned)
    anonymous_browser.cookies.clear()
    before = snapshot(module_client, owned)
    answer = anonymous_browser.request(route.method, url, **kwargs)
    if route.safe:
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"].startswith("/sign-in"), answer.headers["location"]
    else:
        assert answer.status_code == 403, answer.text
    assert snapshot(module_client, owned) == before


def test_the_public_pages_answer_a_browser_without_a_session(anonymous_browser: httpx.Client) -> None:
    anonymous_browser.cookies.clear()
    home = anonymous_browser.get("/")
    assert home.status_code == 303
    assert home.headers["location"] == "/sign-in"
    for path in ("/sign-in", "/register"):
        anonymous_browser.cookies.clear()
        assert anonymous_browser.get(path).status_code == 200, path


def test_the_owner_sees_every_page_and_everything_the_walks_look_for(
    owner_browser: httpx.Client, owned: Owned
) -> None:
    """The control of the walks: the path values are real (the owner's pages answer 200, so another
    account's 404 is the isolation, not a wrong id), and each of ``owned.secrets`` shows on one of
    the owner's pages (so a page that leaked it to another account would be caught)."""
    shown: set[str] = set()
    for route in dashboard_routes():
        if not route.safe or route.path == "/":
            continue
        url, kwargs = request_of(route, owned)
        answer = owner_browser.request(route.method, url, **kwargs)
        assert answer.status_code == 200, (route.id, answer.text)
        shown |= {secret for secret in owned.secrets if secret in answer.text}
    assert shown == set(owned.secrets)
