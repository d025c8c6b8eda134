"""Signing in through the dashboard and the login throttle (RELIABILITY H7): a browser that signed
in before keeps the device cookie ``/core/login`` gave it, so strangers' failed logins never hold
up its right password."""

from __future__ import annotations

import httpx

from pgcube.auth.throttle import DEVICE_COOKIE
from tests.integration.dashboard.support import csrf_of, signed_in
from tests.support.accounts import Account, login
from tests.support.live import LiveServer
from tests.support.sync_pg import SyncPg


def _sign_in(browser: httpx.Client, account: Account) -> httpx.Response:
    token = csrf_of(browser.get("/sign-in").text)
    return browser.post(
        "/sign-in", data={"email": account.email, "password": account.password, "_csrf": token}
    )


def test_the_browser_keeps_the_device_cookie_on_the_sign_in_path(
    live_server: LiveServer, account: Account
) -> None:
    with live_server.client() as browser:
        answer = _sign_in(browser, account)
        assert answer.status_code == 303
        (device,) = [
            value for value in answer.headers.get_list("set-cookie") if value.startswith(DEVICE_COOKIE)
        ]
        attributes = {part.strip().lower() for part in device.split(";")[1:]}
        assert {"httponly", "path=/sign-in", "samesite=strict", "max-age=31536000"} <= attributes


def test_a_browser_that_signed_in_before_is_not_held_up_by_a_strangers_guesses(
    live_server: LiveServer, account: Account, pg: SyncPg
) -> None:
    with live_server.client() as owner, live_server.client() as stranger, live_server.client() as new_browser:
        signed_in(owner, account)
        for n in range(6):
            assert login(stranger, account.email, f"guess {n}").status_code in (401, 429)
        # The attack goes on: its block held, however long the steps took on a busy machine.
        held = pg.execute(
            "UPDATE pgcube.login_throttle SET blocked_until = now() + interval '1 hour' WHERE bucket = $1",
            "acct:" + account.email.lower(),
        )
        assert held == "UPDATE 1", "the guesses blocked the account's bucket"

        again = _sign_in(owner, account)
        assert again.status_code == 303, again.text

        refused = _sign_in(new_browser, account)
        assert refused.status_code == 429
        assert 'role="alert"' in refused.text
