"""Databases: the account's list (search, pages) and a form to create one; a database's page —
its schema, collections, declared fields, indexes and document counts — with the forms that
change it: add a collection, create and drop an index, drop a collection, drop the database.

Each change is one call of the Management API (``/api/create_database``, ``/api/add_collection``,
``/api/create_index``, ``/api/drop_index``, ``/api/drop_collections``, ``/api/drop_database``); a
refusal shows the API's message and where it points, with the form as the user sent it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from pgcube.dashboard import jsontext
from pgcube.dashboard.client import Answer
from pgcube.dashboard.page import CurrentPage, Page
from pgcube.dashboard.pages.collection_form import (
    ACCESS_RULES,
    FIELD_TYPES,
    SCALAR_TYPES,
    CollectionRows,
    collections_of,
)
from pgcube.dashboard.pages.scoped import PageNumber, database_of, database_url

PAGE_SIZE = "10"

NOTICES = {
    "created": "Database “{name}” created.",
    "added": "Added: {name}.",
    "index-created": "Index “{name}” created.",
    "index-dropped": "Index “{name}” dropped.",
    "collection-dropped": "Collection “{name}” dropped.",
    "dropped": "Database “{name}” dropped.",
}
"""What a page says after a change (``?done=<what>&name=<which>``: the redirect after the POST)."""

FORM_CHOICES = {"field_types": FIELD_TYPES, "scalar_types": SCALAR_TYPES, "access_rules": ACCESS_RULES}


def _where(answer: Answer) -> str | None:
    """Where the API says the input is wrong: a JSON pointer, else the field it names."""
    if answer.pointer:
        return answer.pointer
    details = answer.error.get("details")
    where = details.get("field") if isinstance(details, dict) else None
    return where if isinstance(where, str) else None


def _refusal(answer: Answer) -> dict[str, Any]:
    return {"error": answer.message, "where": _where(answer)}


def _notice(done: str | None, name: str | None) -> str | None:
    template = NOTICES.get(done or "")
    return template.format(name=name or "") if template else None


def _done(url: str, done: str, name: str, anchor: str = "") -> str:
    return f"{url}?{urlencode({'done': done, 'name': name})}{anchor}"


# --- the list --------------------------------------------------------------------------------------
def _list_url(search: str | None, number: int, page_size: str | None) -> str:
    query = {
        "search": search or "",
        "page": str(number) if number != 1 else "",
        "page_size": page_size or "",
    }
    filled = {key: value for key, value in query.items() if value}
    return "/databases" + (f"?{urlencode(filled)}" if filled else "")


async def _list_page(
    page: Page,
    *,
    search: str | None = None,
    number: int = 1,
    page_size: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Template:
    params: dict[str, Any] = {"page": number, "page_size": page_size or PAGE_SIZE}
    if search:
        params["search"] = search
    answer = await page.api.get("/api/list_databases", params=params)
    listed = answer.body if answer.ok else {}
    pagination = listed.get("pagination") or {}
    current = int(pagination.get("page", 1))
    pages = max(int(pagination.get("total_pages", 1)), 1)
    if not answer.ok and "error" not in context:
        context.update(_refusal(answer))
        status_code = answer.status
    context.setdefault("collections", [CollectionRows()])
    return page.render(
        "databases.html",
        status_code=status_code,
        databases=listed.get("data", []),
        total=pagination.get("total_items", 0),
        current=current,
        pages=pages,
        previous_url=_list_url(search, current - 1, page_size) if current > 1 else None,
        next_url=_list_url(search, current + 1, page_size) if pagination.get("has_next") else None,
        search=search or "",
        title="Databases",
        **FORM_CHOICES,
        **context,
    )


@get("/databases", name="dashboard:databases")
async def list_databases(
    page: CurrentPage,
    search: FromQuery[str | None] = None,
    number: PageNumber = 1,
    page_size: FromQuery[str | None] = None,
    done: FromQuery[str | None] = None,
    name: FromQuery[str | None] = None,
) -> Template:
    return await _list_page(
        page, search=search, number=number, page_size=page_size, notice=_notice(done, name)
    )


@post("/databases", status_code=200)
async def create_database(page: CurrentPage) -> Response[Any] | Template:
    form = await page.form()
    if "body" in form:  # the advanced form: the whole request body as JSON
        try:
            body = jsontext.parse(form["body"], "The JSON body")
        except jsontext.BadJson as exc:
            return await _list_page(page, status_code=400, error=str(exc), json_body=form["body"])
        answer = await page.api.post("/api/create_database", json=body)
        if not answer.ok:
            return await _list_page(
                page, status_code=answer.status, json_body=form["body"], **_refusal(answer)
            )
    else:
        collections = collections_of(form)
        body = {
            "db_name": form.get("db_name", "").strip(),
            "collections": [collection.body() for collection in collections if not collection.blank],
        }
        answer = await page.api.post("/api/create_database", json=body)
        if not answer.ok:
            return await _list_page(
                page,
                status_code=answer.status,
                db_name=form.get("db_name", ""),
                collections=collections or [CollectionRows()],
                **_refusal(answer),
            )
    database = answer.body["database"]
    return page.redirect(_done(database_url(database["id"]), "created", database["name"]))


# --- one database ----------------------------------------------------------------------------------
async def _database_page(page: Page, database_id: str, *, status_code: int = 200, **context: Any) -> Template:
    database = await database_of(page, database_id)
    listed = await page.api.get("/api/list_collections", params={"database_id": database_id})
    counts = {count["name"]: count for count in listed.body.get("collections", [])} if listed.ok else {}
    context.setdefault("collections", [CollectionRows()])
    return page.render(
        "database.html",
        status_code=status_code,
        database=database.metadata,
        database_id=database_id,
        counts=counts,
        title=database.name,
        **FORM_CHOICES,
        **context,
    )


@get("/databases/{database_id:str}", name="dashboard:database")
async def show_database(
    page: CurrentPage,
    database_id: FromPath[str],
    done: FromQuery[str | None] = None,
    name: FromQuery[str | None] = None,
) -> Template:
    return await _database_page(page, database_id, notice=_notice(done, name))


@post("/databases/{database_id:str}/add-collection", status_code=200)
async def add_collection(page: CurrentPage, database_id: FromPath[str]) -> Response[Any] | Template:
    form = await page.form()
    if "body" in form:  # the advanced form: the body's ``collections`` as JSON
        try:
            collections = jsontext.parse(form["body"], "The JSON body")
        except jsontext.BadJson as exc:
            return await _database_page(
                page, database_id, status_code=400, error=str(exc), json_body=form["body"]
            )
        answer = await page.api.post(
            "/api/add_collection", json={"database_id": database_id, "collections": collections}
        )
        if not answer.ok:
            return await _database_page(
                page, database_id, status_code=answer.status, json_body=form["body"], **_refusal(answer)
            )
    else:
        rows = collections_of(form)
        answer = await page.api.post(
            "/api/add_collection",
            json={"database_id": database_id, "collections": [collection.body() for collection in rows]},
        )
        if not answer.ok:
            return await _database_page(
                page,
                database_id,
                status_code=answer.status,
                collections=rows or [CollectionRows()],
                adding=True,
                **_refusal(answer),
            )
    names = [collection["name"] for collection in answer.body["collections"]]
    anchor = f"#collection-{names[0]}" if names else ""
    return page.redirect(_done(database_url(database_id), "added", ", ".join(names), anchor))


@post("/databases/{database_id:str}/create-index", status_code=200)
async def create_index(page: CurrentPage, database_id: FromPath[str]) -> Response[Any] | Template:
    form = await page.form()
    collection = form.get("collection", "")
    body = {
        "database_id": database_id,
        "collection": collection,
        "fields": [name.strip() for name in form.get("fields", "").split(",") if name.strip()],
        "unique": form.get("unique") == "on",
    }
    answer = await page.api.post("/api/create_index", json=body)
    if not answer.ok:
        return await _database_page(
            page, database_id, status_code=answer.status, index_form=form, **_refusal(answer)
        )
    index = answer.body["index"]["name"]
    return page.redirect(
        _done(database_url(database_id), "index-created", index, f"#collection-{collection}")
    )


@post("/databases/{database_id:str}/drop-index", status_code=200)
async def drop_index(page: CurrentPage, database_id: FromPath[str]) -> Response[Any] | Template:
    form = await page.form()
    collection = form.get("collection", "")
    body = {"database_id": database_id, "collection": collection, "name": form.get("name", "")}
    answer = await page.api.post("/api/drop_index", json=body)
    if not answer.ok:
        return await _database_page(page, database_id, status_code=answer.status, **_refusal(answer))
    dropped = answer.body["dropped_index"]
    return page.redirect(
        _done(database_url(database_id), "index-dropped", dropped, f"#collection-{collection}")
    )


@post("/databases/{database_id:str}/drop-collection", status_code=200)
async def drop_collection(page: CurrentPage, database_id: FromPath[str]) -> Response[Any] | Template:
    form = await page.form()
    body = {"database_id": database_id, "collection_names": [form.get("collection", "")]}
    answer = await page.api.post("/api/drop_collections", json=body)
    if not answer.ok:
        return await _database_page(page, database_id, status_code=answer.status, **_refusal(answer))
    dropped = ", ".join(answer.body["dropped_collections"])
    return page.redirect(_done(database_url(database_id), "collection-dropped", dropped))


@post("/databases/{database_id:str}/drop", status_code=200)
async def drop_database(page: CurrentPage, database_id: FromPath[str]) -> Response[Any] | Template:
    form = await page.form()
    confirmation = form.get("confirmation", "")
    answer = await page.api.post(
        "/api/drop_database", json={"database_id": database_id, "confirmation": confirmation}
    )
    if not answer.ok:
        return await _database_page(
            page, database_id, status_code=answer.status, confirmation=confirmation, **_refusal(answer)
        )
    return page.redirect(_done("/databases", "dropped", form.get("database_name") or confirmation))


PAGES = [
    list_databases,
    create_database,
    show_database,
    add_collection,
    create_index,
    drop_index,
    drop_collection,
    drop_database,
]
