"""The dashboard is usable with a keyboard alone and at a phone's width."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.dashboard import PHONE, no_sideways_scroll
from tests.support.accounts import Account


def test_signing_in_takes_only_the_keyboard(page: Page, account: Account) -> None:
    page.goto("/sign-in")
    expect(page.get_by_label("Email")).to_be_focused()  # the form is ready to type into
    page.keyboard.type(account.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(account.password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/databases"))
    page.goto("/keys")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    expect(page.get_by_label("Name")).to_be_visible()  # no keys yet: the form is open
    page.get_by_text("Create a key").focus()
    page.keyboard.press("Enter")  # the <details> folds and unfolds from the keyboard
    expect(page.get_by_label("Name")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Name")).to_be_visible()


def test_pages_fit_a_phone(page: Page, account: Account) -> None:
    page.set_viewport_size(PHONE)
    for path in ("/sign-in", "/register"):
        page.goto(path)
        assert no_sideways_scroll(page), f"{path} scrolls sideways at phone width"
    page.goto("/sign-in")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/databases"))
    page.goto("/keys")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    assert no_sideways_scroll(page), "/keys scrolls sideways at phone width"
