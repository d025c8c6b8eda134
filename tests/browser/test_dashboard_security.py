"""The dashboard's session in a real browser: a form on another site cannot act for a signed-in
user (CSRF), and a session cookie planted before sign-in gains its planter nothing (fixation)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from pgcube.dashboard.session import COOKIE
from tests.browser.dashboard import sign_in_as
from tests.support.accounts import Account


@pytest.fixture
def other_site(server_url: str) -> Iterator[str]:
    """A page on another site (``localhost`` is not ``127.0.0.1``'s site) whose form posts to the
    dashboard as soon as it loads — what a malicious page would do."""
    page = f"""<!doctype html><title>Win a prize</title>
<form id="f" method="post" action="{server_url}/keys">
  <input name="name" value="planted-by-another-site"><input name="_csrf" value="guessed">
</form><script>document.getElementById("f").submit()</script>""".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def key_names(client: httpx.Client, account: Account) -> list[str]:
    return [key["name"] for key in client.get("/core/api/v1/keys", headers=account.headers).json()]


def test_a_form_on_another_site_cannot_act_for_a_signed_in_user(
    page: Page, account: Account, other_site: str, client: httpx.Client
) -> None:
    sign_in_as(page, account)
    page.goto(other_site)
    page.wait_for_url(re.compile(r"/keys$"))
    expect(page.get_by_role("alert")).to_contain_text("another site")
    assert "planted-by-another-site" not in key_names(client, account)
    page.goto("/keys")  # the user is still signed in, and nothing was made
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.get_by_text("planted-by-another-site")).to_have_count(0)


def test_a_cookie_planted_before_sign_in_gains_its_planter_nothing(
    new_context: Callable[[], BrowserContext], account: Account
) -> None:
    attacker, victim = new_context(), new_context()
    attacker_page = attacker.new_page()
    attacker_page.goto("/sign-in")
    planted = next(c for c in attacker.cookies() if c["name"] == COOKIE)
    victim.add_cookies([planted])
    victim_page = victim.new_page()
    sign_in_as(victim_page, account)
    after = next(c for c in victim.cookies() if c["name"] == COOKIE)
    assert after["value"] != planted["value"], "signing in sealed a new session"
    assert after["httpOnly"]
    assert after["sameSite"] == "Lax"

    attacker_page.goto("/keys")
    attacker_page.wait_for_url(re.compile(r"/sign-in"))
    expect(attacker_page.get_by_role("heading", name="Sign in")).to_be_visible()
