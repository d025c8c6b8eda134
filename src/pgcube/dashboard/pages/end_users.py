"""A database's end users (``/api/end_users``): search, pages, disable, enable, delete; and its
end-user settings (``/api/auth_settings``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from pgcube.dashboard.client import Answer
from pgcube.dashboard.page import CurrentPage, Page
from pgcube.dashboard.pages.scoped import PageNumber, database_of, database_url

PAGE_SIZE = 25
SETTINGS = ("allow_email_signup", "require_verified_email", "verify_email_on_signup")
"""The switches of ``PUT /api/auth_settings``, in the order the page shows them."""

DONE = {
    "disabled": "Disabled: their sessions have ended.",
    "enabled": "Enabled: they can sign in again.",
    "deleted": "Deleted; their documents stay.",
    "saved": "Settings saved.",
}
"""What the list says after a change (``?done=``: each change answers with a redirect to the list)."""


def _users_url(database_id: str, page: int = 1, search: str = "", done: str = "") -> str:
    query = {"page": page if page != 1 else "", "search": search, "done": done}
    filled = {key: value for key, value in query.items() if value}
    return f"{database_url(database_id)}/users" + (f"?{urlencode(filled)}" if filled else "")


async def _users_page(
    page: Page,
    database_id: str,
    *,
    number: int = 1,
    search: str = "",
    status_code: int = 200,
    failed: Answer | None = None,
    **context: Any,
) -> Template:
    database = await database_of(page, database_id)
    params: dict[str, Any] = {"database_id": database_id, "page": number, "page_size": PAGE_SIZE}
    if search:
        params["search"] = search
    users = await page.api.get("/api/end_users", params=params)
    settings = await page.api.get("/api/auth_settings", params={"database_id": database_id})
    failed = failed or next((answer for answer in (users, settings) if not answer.ok), None)
    return page.render(
        "end_users.html",
        status_code=failed.status if failed else status_code,
        database=database,
        users=users.body["data"] if users.ok else [],
        pagination=users.body["pagination"] if users.ok else None,
        settings=settings.body["data"] if settings.ok else None,
        search=search,
        number=number,
        error=failed.message if failed else None,
        users_url=_users_url,
        title=f"End users · {database.name}",
        **context,
    )


@get("/databases/{database_id:str}/users", name="dashboard:end-users")
async def list_users(
    page: CurrentPage,
    database_id: FromPath[str],
    number: PageNumber = 1,
    search: FromQuery[str] = "",
    done: FromQuery[str] = "",
) -> Template:
    return await _users_page(page, database_id, number=number, search=search.strip(), message=DONE.get(done))


async def _change(
    page: CurrentPage, database_id: str, method: str, body: dict[str, Any], done: str
) -> Response[Any] | Template:
    """One change to a user; back to the list the form came from, or that list with the API's error."""
    form = await page.form()
    number = int(form["page"]) if form.get("page", "").isdigit() else 1
    search = form.get("search", "")
    answer = await page.api.call(method, "/api/end_users", json={"database_id": database_id, **body})
    if not answer.ok:
        return await _users_page(page, database_id, number=number, search=search, failed=answer)
    return page.redirect(_users_url(database_id, number, search, done))


@post("/databases/{database_id:str}/users/{user_key:str}/disable", status_code=200)
async def disable_user(
    page: CurrentPage, database_id: FromPath[str], user_key: FromPath[str]
) -> Response[Any] | Template:
    return await _change(page, database_id, "PATCH", {"_userkey": user_key, "disabled": True}, "disabled")


@post("/databases/{database_id:str}/users/{user_key:str}/enable", status_code=200)
async def enable_user(
    page: CurrentPage, database_id: FromPath[str], user_key: FromPath[str]
) -> Response[Any] | Template:
    return await _change(page, database_id, "PATCH", {"_userkey": user_key, "disabled": False}, "enabled")


@post("/databases/{database_id:str}/users/{user_key:str}/delete", status_code=200)
async def delete_user(
    page: CurrentPage, database_id: FromPath[str], user_key: FromPath[str]
) -> Response[Any] | Template:
    return await _change(page, database_id, "DELETE", {"_userkey": user_key}, "deleted")


@post("/databases/{database_id:str}/auth-settings", status_code=200)
async def update_settings(page: CurrentPage, database_id: FromPath[str]) -> Response[Any] | Template:
    form = await page.form()
    body: dict[str, Any] = {"database_id": database_id} | {name: name in form for name in SETTINGS}
    answer = await page.api.call("PUT", "/api/auth_settings", json=body)
    if not answer.ok:
        return await _users_page(page, database_id, failed=answer)
    return page.redirect(_users_url(database_id, done="saved"))


PAGES = [list_users, disable_user, enable_user, delete_user, update_settings]
