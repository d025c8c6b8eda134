"""Chromium for the browser tests: Debian's own, driven by Playwright, with nothing leaving the machine.

* ``find_chromium()`` — the binary: ``PGCUBE_TEST_CHROMIUM``, else ``chromium`` or
  ``chromium-browser`` on the PATH, else ``/usr/bin/chromium``; ``None`` when there is none
  (the tests then skip; ``make test`` installs Debian's package when run as root with apt).
  Never a browser Playwright downloads: that needs the internet, which CI does not have.
* ``launch(playwright, path)`` — headless, with ``CHROMIUM_ARGS``. Playwright gives each
  browser a fresh temporary profile (user-data-dir) and removes it on close.
* ``Network`` — records every request of the contexts it watches and aborts each one off the
  machine (to anything but a loopback host), so nothing leaves it; ``assert_stayed_local()``
  names each one.
* ``PageErrors`` — records the watched contexts' uncaught script errors and Content-Security-
  Policy violations (something a page needs, blocked); ``assert_none()`` names each one.
* ``assert_page_has_no_external_urls(page)`` — the page as served and as rendered, and its
  stylesheets, name nothing off the machine (``tests/support/offline.py``).
* ``read_timing(page, name)`` — the page load's Navigation Timing, reported, never asserted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Route,
    WebError,
)

from tests.support.offline import Fetched, assert_none_external, external_urls, is_loopback

CHROMIUM_ENV = "PGCUBE_TEST_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = "no Chromium: install Debian's chromium package (make test does when run as root with apt)"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The browser's own traffic (updates, sync, field trials) would leave the machine unseen by routes.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # a container's small /dev/shm crashes renderers
]
TIMEOUT_MS = 60_000
"""Per action, navigation and ``expect``: generous, as a CI machine may be busy. There, with
two CPUs shared with other work, Swagger UI took 10-20 s to draw /schema (a 450 kB document)."""


class ChromiumSettingError(Exception):
    """``PGCUBE_TEST_CHROMIUM`` names no executable: a mistake to report, never a reason to skip."""


def find_chromium(environ: Mapping[str, str] | None = None) -> Path | None:
    """The Chromium binary to drive, or ``None`` when this machine has none."""
    environ = os.environ if environ is None else environ
    if chosen := environ.get(CHROMIUM_ENV):
        if not os.access(chosen, os.X_OK) or not Path(chosen).is_file():
            raise ChromiumSettingError(f"{CHROMIUM_ENV}={chosen} is not an executable file")
        return Path(chosen)
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name, path=environ.get("PATH")):
            return Path(found)
    return DEBIAN_CHROMIUM if os.access(DEBIAN_CHROMIUM, os.X_OK) else None


def launch(playwright: Playwright, path: Path) -> Browser:
    return playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)


@dataclass
class Network:
    """Every request of the watched contexts, in order, and those off the machine (aborted)."""

    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        context.on("request", self._record)  # every request the browser makes, routed or not
        context.route("**/*", self._route)

    def _record(self, request: Request) -> None:
        self.requests.append(request.url)
        if not is_loopback(request.url) and request.url not in self.external:
            self.external.append(request.url)

    def _route(self, route: Route) -> None:
        if is_loopback(route.request.url):
            route.fallback()
        else:
            route.abort("blockedbyclient")

    def assert_stayed_local(self) -> None:
        assert not self.external, "requests off the machine (aborted):\n  " + "\n  ".join(self.external)


@dataclass
class PageErrors:
    """The watched contexts' uncaught script errors and Content-Security-Policy violations: a
    violation is something the page asked for and the browser refused (an inline style, a script)."""

    errors: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        context.on("console", self._console)
        context.on("weberror", self._uncaught)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(f"{message.location.get('url', '')}: {message.text}")

    def _uncaught(self, error: WebError) -> None:
        page = error.page
        self.errors.append(f"{page.url if page else ''}: uncaught {error.error}")

    def assert_none(self) -> None:
        assert not self.errors, "errors in the pages:\n  " + "\n  ".join(self.errors)


def assert_page_has_no_external_urls(page: Page) -> None:
    """The page now open, as served (fetched again, with the browser's cookies) and as rendered,
    and each stylesheet it links, name no URL off this machine."""

    def fetch(url: str) -> Fetched:
        answer = page.request.get(url)
        return Fetched(answer.status, answer.headers.get("content-type", ""), answer.text())

    assert_none_external(external_urls(fetch, page.url, rendered=page.content()))


@dataclass(frozen=True)
class PageTiming:
    """Milliseconds from the start of the page's navigation."""

    name: str
    url: str
    response_ms: float  # the HTML has arrived (responseEnd)
    dom_content_loaded_ms: float  # the document is parsed and its deferred scripts ran
    load_ms: float  # its images, stylesheets and scripts are loaded (loadEventEnd)
    ready_ms: float  # when measured: after the test's own wait (e.g. for a rendered element)


_NAVIGATION_TIMING = """() => {
    const n = performance.getEntriesByType('navigation')[0];
    return [n.name, n.responseEnd - n.startTime, n.domContentLoadedEventEnd - n.startTime,
            n.loadEventEnd - n.startTime, performance.now()];
}"""


def read_timing(page: Page, name: str) -> PageTiming:
    """The Navigation Timing of the page now open, once its load event has finished."""
    page.wait_for_function("performance.getEntriesByType('navigation')[0]?.loadEventEnd > 0")
    url, response, dom_content_loaded, load, ready = page.evaluate(_NAVIGATION_TIMING)
    return PageTiming(name, url, response, dom_content_loaded, load, ready)
