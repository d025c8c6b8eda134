"""Driving the dashboard over plain HTTP, as a browser's form posts would (no JavaScript)."""

from __future__ import annotations

import hashlib
import hmac
import re

import httpx

from pgcube.dashboard.session import COOKIE, KEY_PURPOSE, SessionSeal
from tests.support.accounts import Account
from tests.support.live import TEST_JWT_SECRET

_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def signed_in(http: httpx.Client, account: Account) -> httpx.Client:
    """``http`` signed in to the dashboard as ``account`` through the sign-in form."""
    token = csrf_of(http.get("/sign-in").text)
    answer = http.post(
        "/sign-in", data={"email": account.email, "password": account.password, "_csrf": token}
    )
    assert answer.status_code == 303, answer.text
    assert http.cookies.get(COOKIE)
    return http


def session_seal(secret: str = TEST_JWT_SECRET) -> SessionSeal:
    """What seals the cookies of a test server signing with ``secret``: its key derived as
    ``AccountService.derived_key`` derives it (so a change there shows here)."""
    return SessionSeal(hmac.new(secret.encode(), f"pgcube {KEY_PURPOSE}".encode(), hashlib.sha256).digest())
