"""The dashboard's session cookie and CSRF defence, over plain HTTP (the browser walk is in
tests/browser): sign-in seals a new session, sign-out ends every copy of it, and no
state-changing request is taken without the session's token or from another site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pytest

from pgcube.auth.tokens import issue_access_token
from pgcube.dashboard.page import SECURITY_HEADERS
from pgcube.dashboard.session import COOKIE
from tests.integration.dashboard.app_support import create_database, files_of
from tests.integration.dashboard.support import csrf_of, session_seal, signed_in
from tests.support.accounts import DEFAULT_PASSWORD, Account, outbox, unique_email
from tests.support.live import TEST_JWT_SECRET, LiveServer, test_settings
from tests.support.sync_pg import SyncPg


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A fresh client with its own cookie jar, as a browser would be."""
    with live_server.client() as http:
        yield http


def test_the_cookie_is_http_only_same_site_and_sealed(browser: httpx.Client, account: Account) -> None:
    first = browser.get("/sign-in")
    set_cookie = first.headers["set-cookie"]
    assert f"{COOKIE}=" in set_cookie
    assert "HttpOnly" in set_cookie
    assert "SameSite=lax" in set_cookie or "SameSite=Lax" in set_cookie
    assert "Secure" not in set_cookie, "served over plain http"
    signed_in(browser, account)
    value = browser.cookies[COOKIE]
    assert session_seal("another-secret-" + "y" * 40).open(value) is None, "sealed: no other key opens it"
    opened = session_seal().open(value)
    assert opened is not None, "the server's own key opens it"
    assert opened.email == account.email
    assert opened.signed_in


def test_the_cookie_is_secure_when_the_public_url_is_https(pg_url: str) -> None:
    """Behind a proxy that ends TLS, the public URL says the browser speaks https."""
    settings = test_settings(pg_url, public_url="https://dashboard.example")
    with LiveServer(settings) as server, server.client() as http:
        set_cookie = http.get("/sign-in").headers["set-cookie"]
    assert f"{COOKIE}=" in set_cookie
    assert "Secure" in set_cookie


def test_pages_need_a_session(browser: httpx.Client) -> None:
    answer = browser.get("/keys")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/keys"
    assert browser.get("/").headers["location"] == "/sign-in"


def test_a_forged_or_altered_cookie_is_an_anonymous_visit(browser: httpx.Client, account: Account) -> None:
    signed_in(browser, account)
    value = browser.cookies[COOKIE]
    altered = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
    browser.cookies.clear()
    browser.cookies.set(COOKIE, altered)
    assert browser.get("/keys").status_code == 303
    browser.cookies.clear()
    browser.cookies.set(COOKIE, "not-a-sealed-value")
    assert browser.get("/keys").status_code == 303


def test_sign_in_seals_a_new_session_so_a_planted_cookie_stays_anonymous(
    live_server: LiveServer, account: Account
) -> None:
    """Session fixation: the attacker gets a session cookie from the dashboard and plants it in
    the victim's browser; after the victim signs in, the attacker's copy is still anonymous."""
    with live_server.client() as attacker, live_server.client() as victim:
        attacker.get("/sign-in")
        planted = attacker.cookies[COOKIE]
        victim.cookies.update(attacker.cookies)
        signed_in(victim, account)
        assert victim.cookies[COOKIE] != planted
        assert csrf_of(victim.get("/keys").text) != csrf_of(attacker.get("/sign-in").text)
        assert attacker.get("/keys").status_code == 303, "the planted cookie gained nothing"


def test_sign_out_ends_every_copy_of_the_session(live_server: LiveServer, account: Account) -> None:
    with live_server.client() as http, live_server.client() as copy:
        signed_in(http, account)
        copy.cookies.update(http.cookies)
        assert copy.get("/keys").status_code == 200
        token = csrf_of(http.get("/keys").text)
        out = http.post("/sign-out", data={"_csrf": token})
        assert out.status_code == 303
        assert out.headers["location"] == "/sign-in"
        assert http.get("/keys").status_code == 303
        assert copy.get("/keys").status_code == 303, "the copied cookie's session was revoked"


def test_a_post_without_the_csrf_token_changes_nothing(browser: httpx.Client, account: Account) -> None:
    signed_in(browser, account)
    for data in ({"name": "forged"}, {"name": "forged", "_csrf": "wrong"}):
        refused = browser.post("/keys", data=data)
        assert refused.status_code == 403
        assert "did not come from this dashboard" in refused.text
    keys = browser.get("/core/api/v1/keys", headers=account.headers).json()
    assert all(key["name"] != "forged" for key in keys)


def test_a_post_from_another_site_is_refused_even_with_the_token(
    browser: httpx.Client, account: Account
) -> None:
    signed_in(browser, account)
    token = csrf_of(browser.get("/keys").text)
    refused = browser.post(
        "/keys", data={"name": "cross-site", "_csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    made = browser.post("/keys", data={"name": "same-site", "_csrf": token}, headers={"X-CSRF-Token": token})
    assert made.status_code == 200
    assert "same-site" in made.text


def test_an_upload_s_token_is_taken_from_its_header_never_from_its_body(
    browser: httpx.Client, account: Account
) -> None:
    """A multipart body is not read before its token is known (a stranger's 50 MiB upload would be
    spooled first): its ``_csrf`` field, or a file part of that name, counts for nothing."""
    signed_in(browser, account)
    database_id = create_database(browser, account)
    url = f"/databases/{database_id}/files"
    token = csrf_of(browser.get(url).text)
    upload = {"file": ("x.txt", b"x", "text/plain")}
    assert browser.post(url, data={"_csrf": token}, files=upload).status_code == 403
    as_a_file = {**upload, "_csrf": ("token.txt", token.encode(), "text/plain")}
    assert browser.post(url, files=as_a_file).status_code == 403
    assert files_of(browser, account, database_id) == []
    assert browser.post(url, files=as_a_file, headers={"X-CSRF-Token": token}).status_code == 303
    assert [file["filename"] for file in files_of(browser, account, database_id)] == ["x.txt"]


def test_a_form_larger_than_the_api_takes_is_not_read_for_its_token(
    browser: httpx.Client, account: Account
) -> None:
    """The upload route takes large bodies (multipart): a plain form there is read for its token
    only within the API's body limit, never held in memory whole before anyone is known."""
    signed_in(browser, account)
    url = f"/databases/{create_database(browser, account)}/files"
    token = csrf_of(browser.get(url).text)
    padded = browser.post(url, data={"_csrf": token, "pad": "x" * 2_000_000})
    assert padded.status_code == 403
    small = browser.post(url, data={"_csrf": token})
    assert small.status_code == 400, "read, accepted, and refused by the page: no file"


def test_a_wrong_password_shows_the_api_error_and_signs_nobody_in(
    browser: httpx.Client, account: Account
) -> None:
    token = csrf_of(browser.get("/sign-in").text)
    answer = browser.post(
        "/sign-in", data={"email": account.email, "password": "wrong-password", "_csrf": token}
    )
    assert answer.status_code == 401
    assert 'role="alert"' in answer.text
    assert browser.get("/keys").status_code == 303


_NEXT_FIELD = re.compile(r'name="next" value="([^"]*)"')


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://x.example", "/\t/x.example", "/\n/x", "/\\x", "//x", "/keys\x7f"],
    ids=["scheme-relative", "absolute", "tab", "newline", "backslash", "double-slash", "control"],
)
def test_next_never_leaves_the_dashboard(browser: httpx.Client, account: Account, target: str) -> None:
    """A browser drops tabs and newlines from a URL: ``/<tab>/x.example`` would be ``//x.example``."""
    page = browser.get("/sign-in", params={"next": target})
    assert page.status_code == 200
    field = _NEXT_FIELD.search(page.text)
    assert field is not None
    assert field.group(1) == "/databases"
    answer = browser.post(
        "/sign-in",
        data={
            "email": account.email,
            "password": account.password,
            "_csrf": csrf_of(page.text),
            "next": target,
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/databases"


def test_next_leads_back_to_the_page_asked_for(browser: httpx.Client, account: Account) -> None:
    page = browser.get("/sign-in", params={"next": "/keys?sort=name"})
    answer = browser.post(
        "/sign-in",
        data={
            "email": account.email,
            "password": account.password,
            "_csrf": csrf_of(page.text),
            "next": "/keys?sort=name",
        },
    )
    assert answer.headers["location"] == "/keys?sort=name"


def test_the_emails_link_opened_in_a_browser_verifies_then_leads_to_sign_in(
    browser: httpx.Client, pg: SyncPg
) -> None:
    email = unique_email("dashboard-verify")
    token = csrf_of(browser.get("/register").text)
    answer = browser.post(
        "/register", data={"email": email, "password": DEFAULT_PASSWORD, "first_name": "Ada", "_csrf": token}
    )
    assert answer.status_code == 200
    assert "Check your email" in answer.text
    found = re.search(r"/core/verify-email/[A-Za-z0-9_-]+", outbox(pg, email)[-1])
    assert found is not None
    path = found.group(0)
    opened = browser.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert opened.status_code == 303
    assert opened.headers["location"] == "/sign-in?verified=1"
    assert "Your email is verified" in browser.get(opened.headers["location"]).text
    verified = pg.fetchval(
        "SELECT email_verified FROM pgcube.accounts WHERE email_canonical = lower($1)", email
    )
    assert verified is True
    documented = browser.get("/schema/openapi.json").json()["paths"]["/core/verify-email/{token}"]["get"]
    assert set(documented["responses"]) >= {"200", "303"}, "both answers are in the API's document"
    assert documented["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/MessageAnswer"
    }


def test_a_refused_post_from_another_site_leaves_the_browsers_session_alone(live_server: LiveServer) -> None:
    """Another site's form arrives without the cookie (SameSite): refused, and its answer sets no
    cookie, so it cannot sign the user out by replacing the session."""
    with live_server.client() as stranger:
        refused = stranger.post("/keys", data={"name": "x"}, headers={"Origin": "http://localhost:1"})
        assert refused.status_code == 403
        assert "set-cookie" not in refused.headers


def _with_an_expired_access_token(cookie: str) -> str:
    """The same session with its access token expired (past the API's leeway): the next page renews it."""
    seal = session_seal()
    session = seal.open(cookie)
    assert session is not None
    assert session.access is not None
    assert session.refresh is not None
    claims = jwt.decode(session.access, options={"verify_signature": False})
    expired = issue_access_token(TEST_JWT_SECRET, claims["sub"], claims.get("sid"), ttl=-120)
    return seal.seal(session.with_tokens(expired, session.refresh))


def test_tabs_renewing_an_expired_token_at_once_leave_the_browser_signed_in(
    live_server: LiveServer, account: Account
) -> None:
    """Three tabs load a page with the same expired access token: each spends the same refresh
    token, the API renews it for one, and the others' answers must not replace the browser's
    cookie (an anonymous one arriving last would sign every tab out)."""
    with live_server.client() as http:
        cookie = _with_an_expired_access_token(signed_in(http, account).cookies[COOKIE])

    def load(_: int) -> httpx.Response:
        with live_server.client(cookies={COOKIE: cookie}) as tab:
            return tab.get("/keys")

    with ThreadPoolExecutor(3) as tabs:
        answers = list(tabs.map(load, range(3)))
    set_cookies = [value for answer in answers if (value := answer.cookies.get(COOKIE))]
    assert len(set_cookies) == 1, "the one tab that renewed the tokens seals them; no other answer sets one"
    renewed = session_seal().open(set_cookies[0])
    assert renewed is not None
    assert renewed.signed_in
    for answer in answers:
        if answer.status_code != 200:
            assert answer.status_code == 303
            assert answer.headers["location"] == "/sign-in?next=/keys"
    with live_server.client(cookies={COOKIE: set_cookies[0]}) as browser:
        assert browser.get("/keys").status_code == 200, "the renewed cookie keeps the browser signed in"


def test_signed_out_mid_form_returns_to_the_form_s_page_after_sign_in(
    live_server: LiveServer, account: Account
) -> None:
    """A form posted after the session ended: sign in, then back to the page the form was on,
    never to its action (a GET there is a 405)."""
    with live_server.client() as http, live_server.client() as ended:
        signed_in(http, account)
        ended.cookies.update(http.cookies)
        token = csrf_of(http.get("/keys").text)
        http.post("/sign-out", data={"_csrf": token})
        form = {"name": "late", "_csrf": token}

        by_htmx = ended.post(
            "/keys",
            data=form,
            headers={"HX-Request": "true", "HX-Current-URL": f"{live_server.url}/keys?sort=name"},
        )
        assert by_htmx.headers["hx-redirect"] == "/sign-in?next=/keys%3Fsort%3Dname"
        plain = ended.post("/keys", data=form, headers={"Referer": f"{live_server.url}/databases/x/files"})
        assert plain.status_code == 303
        assert plain.headers["location"] == "/sign-in?next=/databases/x/files"
        for elsewhere in ({"Referer": "https://evil.example/keys"}, {}):
            answer = ended.post("/keys", data=form, headers=elsewhere)
            assert answer.headers["location"] == "/sign-in?next=/databases"
        assert "set-cookie" not in plain.headers, "the browser's cookie is left as it is"


def test_signed_out_on_a_page_load_returns_to_that_page(browser: httpx.Client) -> None:
    answer = browser.get("/keys", params={"sort": "name", "q": "a b"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/keys%3Fsort%3Dname%26q%3Da%2Bb"
    page = browser.get(answer.headers["location"])
    field = _NEXT_FIELD.search(page.text)
    assert field is not None
    assert field.group(1) == "/keys?sort=name&amp;q=a+b"


def test_every_answer_carries_the_security_headers(
    live_server: LiveServer, account: Account, other_account: Account
) -> None:
    """Pages, redirects and the error pages alike: the Content-Security-Policy, no framing, no
    referrer to other sites, no caching."""
    with live_server.client() as browser, live_server.client() as stranger:
        theirs = create_database(browser, other_account)
        signed_out = stranger.get("/keys")
        signed_in(browser, account)
        answers = {
            "page": browser.get("/keys"),
            "signed out": signed_out,
            "signed out (htmx)": stranger.get("/keys", headers={"HX-Request": "true"}),
            "no CSRF token": browser.post("/keys", data={"name": "x"}),
            "another's database": browser.get(f"/databases/{theirs}/files"),
        }
    assert [answer.status_code for answer in answers.values()] == [200, 303, 200, 403, 404]
    for name, answer in answers.items():
        for header, value in SECURITY_HEADERS.items():
            assert answer.headers.get(header) == value, f"{header} on the {name} answer"
