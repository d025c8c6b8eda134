"""The end users page of a database: the list ``/api/end_users`` answers (search, pages), disable
and enable (the API then refuses, then takes, the user's sign-in), delete, the auth settings
form; the API's errors shown; another account's database is the API's 404."""

from __future__ import annotations

import re

import httpx

from pgcube.dashboard.pages.end_users import PAGE_SIZE
from tests.integration.dashboard.app_support import PASSWORD, App, submit
from tests.support.accounts import Account
from tests.support.end_users import add_end_user, schema_of
from tests.support.sync_pg import SyncPg


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def test_the_page_lists_the_users_the_api_holds_and_searches_them(
    dashboard: httpx.Client, account: Account
) -> None:
    app = App(dashboard, account)
    app.sign_up("ann@example.com", "Ann Lee")
    app.sign_up("bob@example.com", "Bob")
    assert app.sign_in("ann@example.com").status_code == 200
    url = f"/databases/{app.id}/users"

    page = dashboard.get(url)
    assert page.status_code == 200
    rows = _rows(page.text)
    assert len(rows) == len(app.users()) == 2
    ann, bob = app.user("ann@example.com"), app.user("bob@example.com")
    ann_row = next(row for row in rows if "ann@example.com" in row)
    assert "Ann Lee" in ann_row
    assert ann["last_signin_at"] is not None
    assert f'<time datetime="{ann["last_signin_at"]}">' in ann_row
    assert f'<time datetime="{ann["created_at"]}">' in ann_row
    bob_row = next(row for row in rows if "bob@example.com" in row)
    assert bob["last_signin_at"] is None
    assert "never" in bob_row
    assert "2 end users" in page.text

    found = dashboard.get(url, params={"search": "ANN"})
    assert found.status_code == 200
    (only,) = _rows(found.text)
    assert "ann@example.com" in only
    assert "bob@example.com" not in found.text
    assert len(app.users(search="ANN")) == 1


def test_the_list_comes_a_page_at_a_time(dashboard: httpx.Client, account: Account, pg: SyncPg) -> None:
    app = App(dashboard, account)
    schema = schema_of(pg, app.id)
    for n in range(PAGE_SIZE + 2):
        add_end_user(pg, schema, email=f"user{n:02d}@example.com")
    url = f"/databases/{app.id}/users"
    first = dashboard.get(url)
    assert first.status_code == 200
    assert len(_rows(first.text)) == PAGE_SIZE
    assert "Page 1 of 2" in first.text
    assert f'href="{url}?page=2"' in first.text, "a link to the next page"
    second = dashboard.get(url, params={"page": 2})
    assert len(_rows(second.text)) == 2
    shown = re.findall(r"<td>(user\d\d@example\.com)</td>", first.text + second.text)
    assert sorted(shown) == sorted(user["email"] for user in app.users(page_size=100))


def test_disable_refuses_the_users_sign_in_and_enable_lets_them_in_again(
    dashboard: httpx.Client, account: Account
) -> None:
    app = App(dashboard, account)
    app.sign_up("cat@example.com", "Cat")
    assert app.sign_in("cat@example.com").status_code == 200
    key = app.user("cat@example.com")["_userkey"]
    url = f"/databases/{app.id}/users"

    sent = submit(dashboard, url, f"{url}/{key}/disable", {"page": "1", "search": "cat"})
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"{url}?search=cat&done=disabled", "back to the list it came from"
    disabled = dashboard.get(sent.headers["location"])
    assert "Disabled: their sessions have ended." in disabled.text
    assert '<span class="badge">disabled</span>' in disabled.text
    assert app.user("cat@example.com")["disabled"] is True
    refused = app.sign_in("cat@example.com")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "This user is disabled"

    sent = submit(dashboard, url, f"{url}/{key}/enable", {})
    assert sent.status_code == 303, sent.text
    enabled = dashboard.get(sent.headers["location"])
    assert "Enabled: they can sign in again." in enabled.text
    assert "badge" not in "".join(_rows(enabled.text))
    assert app.user("cat@example.com")["disabled"] is False
    assert app.sign_in("cat@example.com").status_code == 200


def test_delete_removes_the_user(dashboard: httpx.Client, account: Account) -> None:
    app = App(dashboard, account)
    app.sign_up("dan@example.com", "Dan")
    app.sign_up("eve@example.com", "Eve")
    key = app.user("dan@example.com")["_userkey"]
    url = f"/databases/{app.id}/users"
    page = dashboard.get(url).text
    assert 'data-confirm="Delete dan@example.com' in page, "the page asks before deleting"
    sent = submit(dashboard, url, f"{url}/{key}/delete", {})
    assert sent.status_code == 303, sent.text
    deleted = dashboard.get(sent.headers["location"])
    assert "Deleted; their documents stay." in deleted.text
    assert "dan@example.com" not in deleted.text.split("</h1>", 1)[1]
    assert [user["email"] for user in app.users()] == ["eve@example.com"]
    assert app.sign_in("dan@example.com").status_code == 401


def test_the_settings_form_saves_what_the_api_then_answers(dashboard: httpx.Client, account: Account) -> None:
    app = App(dashboard, account)
    url = f"/databases/{app.id}/users"
    page = dashboard.get(url).text
    assert 'id="setting-allow_email_signup" name="allow_email_signup" checked' in page
    sent = submit(dashboard, url, f"/databases/{app.id}/auth-settings", {"verify_email_on_signup": "on"})
    assert sent.status_code == 303, sent.text
    saved = dashboard.get(sent.headers["location"])
    assert 'id="setting-verify_email_on_signup" name="verify_email_on_signup" checked' in saved.text
    assert "Settings saved." in saved.text
    assert app.settings() == {
        "allow_email_signup": False,
        "require_verified_email": False,
        "verify_email_on_signup": True,
    }
    signup = app.op({"op": "auth.signup", "email": "fay@example.com", "password": PASSWORD})
    assert signup.status_code == 403, "sign-up is closed now"


def test_bad_input_shows_the_api_error_and_changes_nothing(dashboard: httpx.Client, account: Account) -> None:
    app = App(dashboard, account)
    app.sign_up("gus@example.com", "Gus")
    url = f"/databases/{app.id}/users"
    before = app.users()

    nobody = submit(dashboard, url, f"{url}/{'0' * 32}/disable", {}, headers={"HX-Request": "true"})
    assert nobody.status_code == 404
    assert "End user not found" in nobody.text
    assert "gus@example.com" in nobody.text, "the list is still shown"
    assert nobody.headers["hx-push-url"] == "false", "shown in place: the address stays the list's"
    assert app.users() == before

    bad_page = dashboard.get(url, params={"page": 0})
    assert bad_page.status_code == 400
    assert "page must be at least 1" in bad_page.text


def test_another_accounts_database_is_the_api_404_and_nothing_changes(
    dashboard: httpx.Client, intruder: httpx.Client, account: Account
) -> None:
    app = App(dashboard, account)
    app.sign_up("hal@example.com", "Hal")
    key = app.user("hal@example.com")["_userkey"]
    url = f"/databases/{app.id}/users"

    seen = intruder.get(url)
    assert seen.status_code == 404
    assert "Database not found" in seen.text
    assert "hal@example.com" not in seen.text
    for action in ("disable", "delete"):
        tried = submit(intruder, "/keys", f"{url}/{key}/{action}", {})
        assert tried.status_code == 404
        assert "hal@example.com" not in tried.text
    tried = submit(intruder, "/keys", f"/databases/{app.id}/auth-settings", {})
    assert tried.status_code == 404
    assert app.user("hal@example.com")["disabled"] is False
    assert app.settings()["allow_email_signup"] is True
