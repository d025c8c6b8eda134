"""Steps through the dashboard in Chromium, shared by the browser tests (as a person would: by
labels and button names, never by the page's internals)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, ViewportSize, expect

from tests.support.accounts import Account

PHONE: ViewportSize = {"width": 390, "height": 844}


def no_sideways_scroll(page: Page) -> bool:
    """Whether the page fits its window's width (one pixel of rounding allowed)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/databases"))


def sign_in_as(page: Page, account: Account) -> None:
    sign_in(page, account.email, account.password)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/sign-in"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
