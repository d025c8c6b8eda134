"""The databases pages over plain HTTP, as a browser's form posts would be: what each page shows,
and what the API holds afterwards — a refused form changes nothing, another account's database
is the API's 404 and nothing of it."""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar.handlers import HTTPRouteHandler

from pgcube.dashboard import routes
from tests.integration.dashboard.support import csrf_of, signed_in
from tests.support.accounts import Account
from tests.support.live import LiveServer


@pytest.fixture
def browser(live_server: LiveServer, account: Account) -> Iterator[httpx.Client]:
    """A browser-like client with its own cookie jar, signed in as ``account``."""
    with live_server.client() as http:
        yield signed_in(http, account)


def _token(browser: httpx.Client, url: str = "/databases") -> str:
    return csrf_of(browser.get(url).text)


def _create(client: httpx.Client, account: Account, name: str, **body: Any) -> str:
    answer = client.post("/api/create_database", headers=account.headers, json={"db_name": name, **body})
    assert answer.status_code == 201, answer.text
    database_id: str = answer.json()["database"]["id"]
    return database_id


def _metadata(client: httpx.Client, account: Account, database_id: str) -> httpx.Response:
    return client.get("/api/get_metadata", headers=account.headers, params={"database_id": database_id})


def _collections(client: httpx.Client, account: Account, database_id: str) -> dict[str, Any]:
    answer = _metadata(client, account, database_id)
    assert answer.status_code == 200, answer.text
    return {collection["name"]: collection for collection in answer.json()["data"]["collections"]}


def _named(client: httpx.Client, account: Account, search: str) -> list[str]:
    answer = client.get(
        "/api/list_databases", headers=account.headers, params={"search": search, "page_size": 100}
    )
    assert answer.status_code == 200, answer.text
    return [database["name"] for database in answer.json()["data"]]


def _text(page: httpx.Response) -> str:
    """The page's text with tags dropped and entities decoded, for plain ``in`` checks."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page.text))


def _listed(page: httpx.Response) -> list[str]:
    """The database names in the list's table, in its order."""
    return re.findall(r'<th scope="row"><a href="/databases/[0-9a-f]{24}">([^<]+)</a></th>', page.text)


def _word() -> str:
    return f"w{secrets.token_hex(4)}"


# --- create -----------------------------------------------------------------------------------------
def test_the_form_creates_a_database_with_typed_fields_and_access_rules(
    browser: httpx.Client, client: httpx.Client, account: Account
) -> None:
    name = f"shop_{_word()}"
    form = {
        "_csrf": _token(browser),
        "db_name": name,
        "c0-name": "products",
        "c0-read": "all",
        "c0-write": "owner",
        "c0-f0-name": "sku",
        "c0-f0-type": "string",
        "c0-f0-index": "on",
        "c0-f0-unique": "on",
        "c0-f0-required": "on",
        "c0-f1-name": "price",
        "c0-f1-type": "number",
        "c0-f1-index": "on",
        "c0-f2-name": "notes",
        "c0-f2-type": "string",  # "Indexed" left unchecked: no B-tree
        "c0-f3-name": "",  # an unused row
        "c0-f3-type": "integer",
        "c0-f3-index": "on",
    }
    created = browser.post("/databases", data=form)
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    database_id = re.fullmatch(r"/databases/([0-9a-f]{24})\?done=created&name=.+", location)
    assert database_id is not None, location

    collections = _collections(client, account, database_id[1])
    assert list(collections) == ["products"]
    products = collections["products"]
    assert products["access"] == {"read": "all", "write": "owner"}
    assert products["fields"] == [
        {"name": "sku", "type": "string", "required": True, "index": True, "unique": True},
        {"name": "price", "type": "number", "required": False, "index": True},
        {"name": "notes", "type": "string", "required": False, "index": False},
    ]

    shown = browser.get(location)
    assert shown.status_code == 200
    text = _text(shown)
    assert f"Database “{name}” created." in text
    assert "products$i$sku" in text
    assert "0 documents" in text


def test_the_json_body_creates_what_the_form_cannot(
    browser: httpx.Client, client: httpx.Client, account: Account
) -> None:
    name = f"json_{_word()}"
    body = json.dumps(
        {
            "db_name": name,
            "collections": [
                {
                    "name": "items",
                    "strict": True,
                    "fields": [{"name": "category", "type": "string"}, {"name": "price", "type": "number"}],
                    "indexes": [{"fields": ["category", "price"], "unique": True}],
                },
                {"name": "logs"},
            ],
        }
    )
    created = browser.post("/databases", data={"_csrf": _token(browser), "body": body})
    assert created.status_code == 303, created.text

    [database] = client.get("/api/list_databases", headers=account.headers, params={"search": name}).json()[
        "data"
    ]
    collections = _collections(client, account, database["id"])
    assert set(collections) == {"items", "logs"}
    assert collections["items"]["strict"] is True
    declared = [index for index in collections["items"]["indexes"] if index.get("declared")]
    assert [(index["name"], index["unique"]) for index in declared] == [("items$i$category$price", True)]


@pytest.mark.parametrize(
    ("fields", "message", "where"),
    [
        (
            {"c0-name": "Bad Name", "c0-f0-name": "price", "c0-f0-type": "number"},
            "Invalid collection name",
            "collections[0].name",
        ),
        (
            {"c0-name": "things", "c0-f0-name": "price", "c0-f0-type": "numbr"},
            "Invalid enum value 'numbr'",
            "collections[0].fields[0].type",
        ),
        (
            {"c0-name": "things", "c0-f0-name": "tags", "c0-f0-type": "array", "c0-f0-unique": "on"},
            "Only scalar fields can be unique; 'tags' is array",
            "/collections/0/fields/0/unique",
        ),
    ],
    ids=["bad collection name", "bad field type", "unique on an array"],
)
def test_a_refused_form_shows_the_api_error_keeps_the_input_and_creates_nothing(
    browser: httpx.Client,
    client: httpx.Client,
    account: Account,
    fields: dict[str, str],
    message: str,
    where: str,
) -> None:
    name = f"refused_{_word()}"
    answer = browser.post("/databases", data={"_csrf": _token(browser), "db_name": name, **fields})
    assert answer.status_code == 400, answer.text
    alert = re.search(r'<p role="alert" class="error" id="error">(.*?)</p>', answer.text, re.S)
    assert alert is not None
    assert message in html.unescape(alert[1])
    assert where in html.unescape(alert[1])
    assert f'value="{name}"' in answer.text, "the name typed is kept"
    for key, value in fields.items():
        if key.endswith("-name"):
            assert f'name="{key}" value="{html.escape(value)}"' in answer.text, key
    assert _named(client, account, name) == []


def test_json_that_does_not_parse_or_that_the_api_refuses_creates_nothing(
    browser: httpx.Client, client: httpx.Client, account: Account
) -> None:
    name = f"badjson_{_word()}"
    cut_short = json.dumps({"db_name": name})[:-1] + ","
    broken = browser.post("/databases", data={"_csrf": _token(browser), "body": cut_short})
    assert broken.status_code == 400
    assert "The JSON body is not valid JSON" in _text(broken)
    assert f"{{&#34;db_name&#34;: &#34;{name}&#34;," in broken.text, "the text typed is kept"

    for body, message in (
        (
            f'{{"db_name": "{name}", "db_name": "other_{name}"}}',
            "The JSON body names the key 'db_name' twice",
        ),
        (f'{{"db_name": "{name}", "collections": NaN}}', "The JSON body holds NaN, which JSON does not have"),
    ):
        refused = browser.post("/databases", data={"_csrf": _token(browser), "body": body})
        assert refused.status_code == 400, body
        assert message in _text(refused)
    assert _named(client, account, name) == []

    unknown = json.dumps({"db_name": name, "colections": []})
    refused = browser.post("/databases", data={"_csrf": _token(browser), "body": unknown})
    assert refused.status_code == 400
    assert "Unknown field: colections" in _text(refused)
    assert _named(client, account, name) == []


def test_a_taken_name_is_the_api_conflict(
    browser: httpx.Client, client: httpx.Client, account: Account
) -> None:
    name = f"taken_{_word()}"
    _create(client, account, name)
    answer = browser.post("/databases", data={"_csrf": _token(browser), "db_name": name.upper()})
    assert answer.status_code == 409
    assert f"You already have a database named '{name.upper()}'" in _text(answer)
    assert _named(client, account, name) == [name]


# --- list, search, pages ---------------------------------------------------------------------------
def test_the_list_pages_and_searches_as_the_api_does(
    browser: httpx.Client, client: httpx.Client, account: Account
) -> None:
    word, other = _word(), _word()
    names = [f"{word}_{number:02d}" for number in range(12)]
    for name in names:
        _create(client, account, name)
    _create(client, account, f"{other}_a", collections=[{"name": "one"}, {"name": "two"}])

    first = browser.get("/databases", params={"search": word})
    assert first.status_code == 200
    search_box = re.search(r'<input type="search" id="database-search"[^>]*>', first.text)
    assert search_box is not None
    for attribute in (
        f'value="{word}"',
        'hx-get="/databases"',
        'hx-trigger="input changed delay:300ms, search"',
        'hx-select="#databases"',
        'hx-push-url="true"',
    ):
        assert attribute in search_box[0], attribute
    script = re.search(r'<script src="(/static/dashboard/databases\.js[^"]*)"', first.text)
    assert script is not None
    assert browser.get(script[1]).status_code == 200
    text = _text(first)
    assert f"12 databases matching “{word}”" in text
    assert "Page 1 of 2" in text
    api_first = _named_page(client, account, word, 1)
    assert _listed(first) == api_first
    assert len(api_first) == 10
    assert other not in first.text
    next_url = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert next_url is not None
    assert html.unescape(next_url[1]) == f"/databases?search={word}&page=2", "the link keeps the search"
    assert 'aria-disabled="true">← Previous page' in first.text

    second = browser.get(html.unescape(next_url[1]))
    assert "Page 2 of 2" in _text(second)
    assert _listed(second) == _named_page(client, account, word, 2)
    assert sorted(_listed(first) + _listed(second)) == sorted(names)
    previous = re.search(r'<a href="([^"]+)" rel="prev">', second.text)
    assert previous is not None
    assert html.unescape(previous[1]) == f"/databases?search={word}"
    assert 'aria-disabled="true">Next page →' in second.text

    # what htmx asks while the user types: the whole page, of which it keeps the table
    typed = browser.get("/databases", params={"search": other}, headers={"HX-Request": "true"})
    assert _listed(typed) == [f"{other}_a"]
    assert re.search(
        rf'<a href="/databases/[0-9a-f]{{24}}">{other}_a</a></th>\s*<td><code>[0-9a-f]{{24}}</code></td>\s*<td>2</td>',
        typed.text,
    )

    nothing = browser.get("/databases", params={"search": "no-such-" + word})
    assert _listed(nothing) == []
    assert "No database’s name contains" in _text(nothing)


def _named_page(client: httpx.Client, account: Account, search: str, page: int) -> list[str]:
    answer = client.get(
        "/api/list_databases", headers=account.headers, params={"search": search, "page": page}
    )
    return [database["name"] for database in answer.json()["data"]]


def test_a_bad_page_number_is_the_api_error(browser: httpx.Client) -> None:
    answer = browser.get("/databases", params={"page_size": "0"})
    assert answer.status_code == 400
    assert "page_size must be between 1 and 1000" in _text(answer)
    zero = browser.get("/databases", params={"page": "0"})
    assert zero.status_code == 400
    assert "page must be" in _text(zero)


def test_the_page_number_is_a_number_on_every_list(
    browser: httpx.Client, client: httpx.Client, account: Account
) -> None:
    database_id = _create(client, account, f"pages_{_word()}")
    for url in ("/databases", f"/databases/{database_id}/users", f"/databases/{database_id}/files"):
        answer = browser.get(url, params={"page": "two"})
        assert answer.status_code == 400, url
        assert "Validation failed" in _text(answer), url


# --- one database ----------------------------------------------------------------------------------
@pytest.fixture
def shop(client: httpx.Client, account: Account) -> tuple[str, str]:
    """A database with a collection of declared fields, a unique field, a compound index and 3 documents."""
    name = f"shop_{_word()}"
    database_id = _create(
        client,
        account,
        name,
        collections=[
            {
                "name": "products",
                "fields": [
                    {"name": "sku", "type": "string", "unique": True},
                    {"name": "category", "type": "string"},
                    {"name": "price", "type": "number"},
                    {"name": "tags", "type": "array"},
                ],
                "indexes": [{"fields": ["category", "price"]}],
                "access": {"read": "users", "write": "owner"},
            },
            {"name": "orders"},
        ],
    )
    inserted = client.post(
        f"/api/{database_id}",
        headers=account.headers,
        json={
            "op": "collection.insert",
            "collection": "products",
            "data": [{"sku": f"A-{n}", "category": "audio", "price": n} for n in range(3)],
        },
    )
    assert inserted.status_code == 200, inserted.text
    return database_id, name


def test_the_database_page_shows_its_schema_fields_indexes_and_counts(
    browser: httpx.Client, client: httpx.Client, account: Account, shop: tuple[str, str]
) -> None:
    database_id, name = shop
    metadata = _metadata(client, account, database_id).json()["data"]
    page = browser.get(f"/databases/{database_id}")
    assert page.status_code == 200
    text = _text(page)
    assert f"<h1>{name}</h1>" in page.text
    assert f'value="{database_id}"' in page.text
    assert metadata["dbName"] in text
    assert "3 documents" in text
    assert "0 documents" in text  # orders
    for field in ("sku", "category", "price", "tags"):
        assert f"<code>{field}</code>" in page.text
    for index in metadata["collections"][0]["indexes"] + metadata["collections"][1]["indexes"]:
        assert index["name"] in text
    assert "products$i$category$price" in text
    assert "Web keys may read: users , write: owner" in re.sub(r"\s+", " ", text)
    # droppable: the declared indexes only
    assert set(re.findall(r'name="name" value="([^"]+)"', page.text)) == {
        "products$i$sku",
        "products$i$category$price",
    }
    base = f"/databases/{database_id}"
    for link in (
        f"{base}/collections/products",
        f"{base}/collections/products/query",
        f"{base}/collections/products/access",
        f"{base}/collections/orders",
        f"{base}/users",
        f"{base}/files",
        f"{base}/vectors",
    ):
        assert f'href="{link}"' in page.text, link


def test_add_a_collection_with_the_form_and_with_json(
    browser: httpx.Client, client: httpx.Client, account: Account, shop: tuple[str, str]
) -> None:
    database_id, _ = shop
    base = f"/databases/{database_id}"
    added = browser.post(
        f"{base}/add-collection",
        data={
            "_csrf": _token(browser, base),
            "c0-name": "reviews",
            "c0-read": "all",
            "c0-write": "users",
            "c0-strict": "on",
            "c0-f0-name": "stars",
            "c0-f0-type": "integer",
            "c0-f0-index": "on",
            "c0-f1-name": "",
            "c0-f1-type": "string",
        },
    )
    assert added.status_code == 303, added.text
    assert added.headers["location"] == f"{base}?done=added&name=reviews#collection-reviews"
    reviews = _collections(client, account, database_id)["reviews"]
    assert reviews["strict"] is True
    assert reviews["access"] == {"read": "all", "write": "users"}
    assert reviews["fields"] == [{"name": "stars", "type": "integer", "required": False, "index": True}]
    assert "Added: reviews." in _text(browser.get(added.headers["location"]))

    body = '[{"name": "carts", "fields": [{"name": "total", "type": "number"}], "indexes": [{"fields": ["total"], "unique": true}]}]'
    from_json = browser.post(f"{base}/add-collection", data={"_csrf": _token(browser, base), "body": body})
    assert from_json.status_code == 303, from_json.text
    carts = _collections(client, account, database_id)["carts"]
    assert [index["name"] for index in carts["indexes"] if index.get("declared")] == ["carts$i$total"]


def test_a_refused_collection_shows_the_api_error_and_adds_nothing(
    browser: httpx.Client, client: httpx.Client, account: Account, shop: tuple[str, str]
) -> None:
    database_id, _ = shop
    base = f"/databases/{database_id}"
    before = _collections(client, account, database_id)
    refused = browser.post(
        f"{base}/add-collection",
        data={
            "_csrf": _token(browser, base),
            "c0-name": "new one",
            "c0-f0-name": "x",
            "c0-f0-type": "string",
        },
    )
    assert refused.status_code == 400
    assert "Invalid collection name" in _text(refused)
    assert 'name="c0-name" value="new one"' in refused.text
    taken = browser.post(
        f"{base}/add-collection",
        data={"_csrf": _token(browser, base), "body": '[{"name": "orders"}]'},
    )
    assert taken.status_code == 409, taken.text
    assert "orders" in _text(taken)
    assert _collections(client, account, database_id) == before


def test_create_and_drop_an_index(
    browser: httpx.Client, client: httpx.Client, account: Account, shop: tuple[str, str]
) -> None:
    database_id, _ = shop
    base = f"/databases/{database_id}"
    created = browser.post(
        f"{base}/create-index",
        data={
            "_csrf": _token(browser, base),
            "collection": "products",
            "fields": "price, sku",
            "unique": "on",
        },
    )
    assert created.status_code == 303, created.text
    assert "done=index-created" in created.headers["location"]
    indexes = {
        index["name"]: index for index in _collections(client, account, database_id)["products"]["indexes"]
    }
    assert indexes["products$i$price$sku"]["unique"] is True
    assert indexes["products$i$price$sku"]["declared"] is True
    assert "Index “products$i$price$sku” created." in _text(browser.get(created.headers["location"]))

    dropped = browser.post(
        f"{base}/drop-index",
        data={"_csrf": _token(browser, base), "collection": "products", "name": "products$i$price$sku"},
    )
    assert dropped.status_code == 303, dropped.text
    names = {index["name"] for index in _collections(client, account, database_id)["products"]["indexes"]}
    assert "products$i$price$sku" not in names
    assert "products$i$category$price" in names


def test_a_refused_index_shows_the_api_error_and_changes_nothing(
    browser: httpx.Client, client: httpx.Client, account: Account, shop: tuple[str, str]
) -> None:
    database_id, _ = shop
    base = f"/databases/{database_id}"
    before = _collections(client, account, database_id)["products"]["indexes"]
    on_array = browser.post(
        f"{base}/create-index",
        data={"_csrf": _token(browser, base), "collection": "products", "fields": "tags"},
    )
    assert on_array.status_code == 400
    text = _text(on_array)
    assert "Only scalar fields can be indexed; 'tags' is array" in text
    assert "/fields/0" in text, "the API's pointer is shown"
    assert 'name="fields" required autocomplete="off" spellcheck="false" value="tags"' in on_array.text

    built_in = browser.post(
        f"{base}/drop-index",
        data={"_csrf": _token(browser, base), "collection": "products", "name": "products$f$price"},
    )
    assert built_in.status_code == 400
    assert "the index of the declared field 'price'" in _text(built_in)
    unknown = browser.post(
        f"{base}/drop-index",
        data={"_csrf": _token(browser, base), "collection": "products", "name": "products$i$nothing"},
    )
    assert unknown.status_code == 404
    assert "has no declared index 'products$i$nothing'" in _text(unknown)
    assert _collections(client, account, database_id)["products"]["indexes"] == before


def test_drop_a_collection(
    browser: httpx.Client, client: httpx.Client, account: Account, shop: tuple[str, str]
) -> None:
    database_id, _ = shop
    base = f"/databases/{database_id}"
    dropped = browser.post(
        f"{base}/drop-collection", data={"_csrf": _token(browser, base), "collection": "orders"}
    )
    assert dropped.status_code == 303, dropped.text
    assert set(_collections(client, account, database_id)) == {"products"}
    assert "Collection “orders” dropped." in _text(browser.get(dropped.headers["location"]))

    unknown = browser.post(
        f"{base}/drop-collection", data={"_csrf": _token(browser, base), "collection": "nope"}
    )
    assert unknown.status_code == 404
    assert "Collection not found" in _text(unknown)
    assert set(_collections(client, account, database_id)) == {"products"}


def test_drop_the_database_needs_its_name_typed(
    browser: httpx.Client, client: httpx.Client, account: Account, shop: tuple[str, str]
) -> None:
    database_id, name = shop
    base = f"/databases/{database_id}"
    page = browser.get(base)
    assert '<label for="drop-confirmation">' in page.text

    wrong = browser.post(
        f"{base}/drop", data={"_csrf": csrf_of(page.text), "database_name": name, "confirmation": "products"}
    )
    assert wrong.status_code == 400
    assert "The confirmation must equal the database's name" in _text(wrong)
    assert _metadata(client, account, database_id).status_code == 200
    assert _collections(client, account, database_id).keys() == {"products", "orders"}

    right = browser.post(
        f"{base}/drop",
        data={"_csrf": _token(browser, base), "database_name": name, "confirmation": name.upper()},
    )
    assert right.status_code == 303, right.text
    assert right.headers["location"].startswith("/databases?done=dropped")
    assert _metadata(client, account, database_id).status_code == 404
    listed = browser.get(right.headers["location"])
    assert f"Database “{name}” dropped." in _text(listed)
    assert name not in _listed(listed)


# --- another account --------------------------------------------------------------------------------
def test_another_accounts_database_is_the_api_404_and_shows_nothing_of_it(
    browser: httpx.Client, client: httpx.Client, other_account: Account
) -> None:
    name = f"secret_{_word()}"
    theirs = _create(client, other_account, name, collections=[{"name": "private_things"}])
    schema = _metadata(client, other_account, theirs).json()["data"]["dbName"]

    for url in (f"/databases/{theirs}", "/databases/" + "0" * 24, "/databases/not-an-id"):
        page = browser.get(url)
        assert page.status_code == 404, url
        assert "Database not found" in _text(page)
        for secret in (name, schema, "private_things"):
            assert secret not in page.text

    token = _token(browser)
    for action, form in (
        ("drop", {"confirmation": name}),
        ("drop-collection", {"collection": "private_things"}),
        ("add-collection", {"c0-name": "planted"}),
        ("create-index", {"collection": "private_things", "fields": "x"}),
    ):
        answer = browser.post(f"/databases/{theirs}/{action}", data={"_csrf": token, **form})
        assert answer.status_code == 404, (action, answer.text)
        assert name not in answer.text
    assert set(_collections(client, other_account, theirs)) == {"private_things"}
    assert _listed(browser.get("/databases", params={"search": name})) == [], "the account's own only"


_MAIN = re.compile(r'<main id="main">(.*?)</main>', re.S)
_PATH_PARAMETER = re.compile(r"\{(\w+):str\}")


def _database_pages(database_id: str) -> list[tuple[str, str]]:
    """Every page of one database in the dashboard's route table (method, URL), so a new page
    cannot escape the walk: its other path parameters name things that are not there."""
    values = {"database_id": database_id, "collection": "private_things"}
    pages = []
    for handler in routes.PAGES:
        assert isinstance(handler, HTTPRouteHandler)
        for path in handler.paths:
            if "{database_id:str}" not in path:
                continue
            url = _PATH_PARAMETER.sub(lambda found: values.get(found[1], "nothing"), path)
            pages += [(method, url) for method in sorted(handler.http_methods) if method in {"GET", "POST"}]
    return pages


def test_every_page_of_another_accounts_database_is_the_same_error_page(
    browser: httpx.Client, client: httpx.Client, other_account: Account
) -> None:
    name = f"secret_{_word()}"
    theirs = _create(client, other_account, name, collections=[{"name": "private_things"}])
    token = _token(browser)
    pages = _database_pages(theirs)
    assert len(pages) > 20, pages
    shown = set()
    for method, url in pages:
        answer = browser.request(method, url, headers={"X-CSRF-Token": token})
        assert answer.status_code == 404, (method, url, answer.text)
        assert name not in answer.text
        main = _MAIN.search(answer.text)
        assert main is not None, (method, url)
        shown.add(main.group(1))
    assert len(shown) == 1, shown
    assert "Database not found" in shown.pop()
