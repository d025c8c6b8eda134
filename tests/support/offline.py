"""A page that works offline names nothing off this machine: the check of each page and its CSS.

``assert_no_external_urls(client, "/schema")`` fetches the page and every stylesheet it links
(over ``client``, the test server's) and fails, naming each one, on any URL in a ``src``,
``href``, ``action``, … attribute, an inline style or a stylesheet (its ``url(...)`` and
``@import``) that leaves the machine. Relative URLs and ``data:`` URIs stay; absolute ones may name only
a loopback host. XML namespaces (``http://www.w3.org/2000/svg``) are names, never fetched.

The browser tests (``tests/browser``) make the same check of each page they open, as served
and as rendered, with the browser's cookies (``tests/support/browser.assert_page_has_no_external_urls``);
the browser itself also refuses any request off the machine there.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

import httpx

URL_ATTRIBUTES = ("src", "href", "action", "formaction", "srcset", "poster")
XML_NAMESPACES = "http://www.w3.org/"

_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
# Any scheme-qualified or protocol-relative URL, inside data: URIs too (an SVG may fetch an image).
_ABSOLUTE_URL = re.compile(r"(?<![\w.+-])(?:[a-z][a-z0-9+.-]*:)?//[^\s\"'()<>\\]+", re.IGNORECASE)


def is_loopback(url: str) -> bool:
    """``url`` is relative, not on the network (``data:``, ``blob:``, ``about:``) or on a loopback host."""
    parts = urlsplit(url)
    if not parts.netloc and parts.scheme not in ("http", "https", "ws", "wss", "ftp"):
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def external_urls_in_text(text: str) -> list[str]:
    """The absolute URLs in ``text`` (an attribute value) that are neither loopback nor XML names."""
    return [
        url
        for url in _ABSOLUTE_URL.findall(text)
        if not url.startswith(XML_NAMESPACES) and not is_loopback(url)
    ]


def external_urls_in_css(css: str) -> list[str]:
    """The same for a stylesheet, read whole but for its comments rather than ``url(...)`` by
    ``url(...)``: any URL in it may be fetched, and a ``data:`` URI's quotes end no match."""
    return external_urls_in_text(_CSS_COMMENT.sub("", css))


class _PageUrls(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attribute_values: list[str] = []
        self.stylesheets: list[str] = []
        self.scripts: list[str] = []
        self.inline_css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.attribute_values += [values[name] for name in URL_ATTRIBUTES if name in values]
        self.inline_css += [values["style"]] if "style" in values else []
        if tag == "link" and "stylesheet" in values.get("rel", "").split() and values.get("href"):
            self.stylesheets.append(values["href"])
        if tag == "script" and values.get("src"):
            self.scripts.append(values["src"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.inline_css.append(data)


def page_urls(html: str) -> _PageUrls:
    """What ``html`` names: URL attribute values, linked stylesheets and scripts, inline CSS."""
    parser = _PageUrls()
    parser.feed(html)
    parser.close()
    return parser


class Fetched(NamedTuple):
    status: int
    content_type: str
    text: str


Fetch = Callable[[str], Fetched]
"""GET an absolute URL: over an HTTP client, or the browser's own (its cookies: a signed-in page)."""


def external_urls(fetch: Fetch, url: str, *, rendered: str | None = None) -> list[str]:
    """What the page at ``url`` (as served, and as ``rendered`` in a browser when given) and each
    stylesheet it links name off the machine, each after where it was found. Every stylesheet
    must answer 200 as ``text/css``."""
    page = fetch(url)
    assert page.status == 200, f"{url}: {page.status}"
    documents = {url: page.text} | ({f"{url} (rendered)": rendered} if rendered is not None else {})
    problems: list[str] = []
    stylesheets: list[str] = []
    for where, html in documents.items():
        found = page_urls(html)
        problems += [
            f"{where}: {bad}" for value in found.attribute_values for bad in external_urls_in_text(value)
        ]
        problems += [
            f"{where} (inline style): {bad}" for css in found.inline_css for bad in external_urls_in_css(css)
        ]
        stylesheets += [href for href in found.stylesheets if is_loopback(href)]  # others: named above
    for href in dict.fromkeys(stylesheets):
        sheet = fetch(urljoin(url, href))
        assert sheet.status == 200, f"{href} (linked by {url}): {sheet.status}"
        assert sheet.content_type.startswith("text/css"), f"{href}: {sheet.content_type}"
        problems += [f"{href}: {bad}" for bad in external_urls_in_css(sheet.text)]
    return problems


def assert_none_external(problems: list[str]) -> None:
    assert not problems, "URLs off this machine:\n  " + "\n  ".join(problems)


def assert_no_external_urls(client: httpx.Client, path: str) -> None:
    """The page at ``path`` on ``client``'s server and every stylesheet it links name no URL off
    this machine: the "works offline" check of a page (the browser's: ``tests/support/browser``)."""

    def fetch(url: str) -> Fetched:
        answer = client.get(url)
        return Fetched(answer.status_code, answer.headers.get("content-type", ""), answer.text)

    assert_none_external(external_urls(fetch, str(client.base_url.join(path))))
