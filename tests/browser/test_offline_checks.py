"""The checks that keep pages offline can fail: an external URL in a page or stylesheet is named,
and a request off the machine is aborted before it leaves and named."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser

from tests.support.browser import Network
from tests.support.offline import Fetched, external_urls, is_loopback

PAGE = "http://127.0.0.1:8000/p"


def test_external_urls_in_a_page_and_its_stylesheets_are_named() -> None:
    html = (
        '<link rel="stylesheet" href="/s.css"><link rel="stylesheet" href="https://cdn.example/x.css">'
        '<img src="//img.example/a.png"><a href="/local">ok</a><form action="https://forms.example/f">'
        '<div style="background: url(https://bg.example/b.png)"></div>'
        '<svg xmlns="http://www.w3.org/2000/svg"></svg><a href="http://127.0.0.1:9000/files/x">ok</a>'
    )
    css = (
        "/* https://comment.example */ a { b: url(data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'>"
        "<image href='https://svg.example/i.png'/></svg>) } @import 'https://import.example/more.css';"
    )
    answers = {
        PAGE: Fetched(200, "text/html", html),
        "http://127.0.0.1:8000/s.css": Fetched(200, "text/css", css),
    }
    problems = external_urls(answers.__getitem__, PAGE, rendered='<script src="https://late.example/x.js">')
    assert problems == [
        f"{PAGE}: https://cdn.example/x.css",
        f"{PAGE}: //img.example/a.png",
        f"{PAGE}: https://forms.example/f",
        f"{PAGE} (inline style): https://bg.example/b.png",
        f"{PAGE} (rendered): https://late.example/x.js",
        "/s.css: https://svg.example/i.png",
        "/s.css: https://import.example/more.css",
    ]


def test_a_stylesheet_must_answer_as_css() -> None:
    answers = {
        PAGE: Fetched(200, "text/html", '<link rel="stylesheet" href="/s.css">'),
        "http://127.0.0.1:8000/s.css": Fetched(200, "text/html", "<p>not found</p>"),
    }
    with pytest.raises(AssertionError, match="text/html"):
        external_urls(answers.__getitem__, PAGE)


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("/static/x.js", True),
        ("data:image/png;base64,AAAA", True),
        ("http://127.0.0.1:5000/x", True),
        ("http://localhost/x", True),
        ("http://[::1]:80/x", True),
        ("https://example.com/x", False),
        ("//example.com/x", False),
        ("wss://example.com/socket", False),
        ("http://10.0.0.1/x", False),
    ],
)
def test_loopback(url: str, local: bool) -> None:
    assert is_loopback(url) is local


def test_a_request_off_the_machine_is_aborted_and_named(browser: Browser, server_url: str) -> None:
    network = Network()
    context = browser.new_context(base_url=server_url)
    network.watch(context)
    try:
        page = context.new_page()
        page.goto("/schema/openapi.json")
        outcome = page.evaluate("() => fetch('https://example.com/x').then(() => 'sent', () => 'refused')")
    finally:
        context.close()
    assert outcome == "refused"
    assert network.requests == [f"{server_url}/schema/openapi.json", "https://example.com/x"]
    with pytest.raises(AssertionError, match=re.escape("https://example.com/x")):
        network.assert_stayed_local()
