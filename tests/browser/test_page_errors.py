"""The dashboard's Content-Security-Policy in Chromium: an inline style is refused (the policy
allows pgcube's own stylesheets only), and the browser tests' watch sees the refusal — so any
page of the other browser tests that needed one would fail them."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.support.browser import PageErrors

_INLINE_STYLE = "document.head.insertAdjacentHTML('beforeend', '<style>main { display: none }</style>')"


def test_an_inline_style_is_refused_and_reported(page: Page, page_errors: PageErrors) -> None:
    page.goto("/sign-in")
    with page.expect_console_message(lambda message: "Content Security Policy" in message.text):
        page.evaluate(_INLINE_STYLE)
    expect(page.locator("main")).to_be_visible()
    assert any("Content Security Policy" in error for error in page_errors.errors)
    page_errors.errors.clear()  # seen: the watch works; this refusal was the test's own
