"""API keys: create (the key shown once), list with kind, scope and last use, revoke."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from pgcube.dashboard.client import path_part
from pgcube.dashboard.page import CurrentPage


async def _keys_page(page: CurrentPage, *, status_code: int = 200, **context: Any) -> Template:
    keys = await page.api.get("/core/api/v1/keys")
    databases = await page.api.get("/api/list_databases", params={"page_size": 100})
    if not keys.ok:  # the API's reason, never an empty list that reads "no keys yet"
        context.setdefault("error", keys.message)
        status_code = keys.status if status_code == 200 else status_code
    return page.render(
        "keys.html",
        status_code=status_code,
        keys=keys.body if keys.ok else None,
        databases=(databases.body or {}).get("data", []) if databases.ok else [],
        title="API keys",
        **context,
    )


@get("/keys", name="dashboard:keys")
async def list_keys(page: CurrentPage) -> Template:
    return await _keys_page(page)


@post("/keys", status_code=200)
async def create_key(page: CurrentPage) -> Template:
    form = await page.form()
    body: dict[str, Any] = {"name": form.get("name", ""), "kind": form.get("kind", "server")}
    if form.get("database_id"):
        body["database_id"] = form["database_id"]
    answer = await page.api.post("/core/api/v1/keys", json=body)
    if not answer.ok:
        return await _keys_page(page, status_code=answer.status, error=answer.message, form=form)
    return await _keys_page(page, created=answer.body)


@post("/keys/{key_id:str}/revoke", status_code=200)
async def revoke_key(page: CurrentPage, key_id: FromPath[str]) -> Response[Any] | Template:
    answer = await page.api.call("DELETE", f"/core/api/v1/keys/{path_part(key_id)}")
    if not answer.ok:
        return await _keys_page(page, status_code=answer.status, error=answer.message)
    return page.redirect("/keys")


PAGES = [list_keys, create_key, revoke_key]
