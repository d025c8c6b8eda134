"""Browser tests: pages of a real pgcube (``live_server``) in Debian's Chromium, headless,
with every request off the machine aborted and failing the test (``tests/support/browser.py``).

* ``browser`` — one Chromium for the tests of this folder; skips them when the machine has none.
* ``server_url`` — the test server's base URL (``http://127.0.0.1:<port>``).
* ``page`` — a page in a fresh context (no cookies from another test), on ``server_url``:
  ``page.goto("/schema")``. After the test, every request must have stayed on the machine, and
  no page may have met a script error or a Content-Security-Policy violation.
* ``new_context()`` — another such context, e.g. for a second user; the same checks apply.
* ``network`` — the requests of this test's contexts: ``network.assert_stayed_local()``.
* ``page_errors`` — their uncaught script errors and Content-Security-Policy violations: after
  the test there must be none (``page_errors.assert_none()``).
* ``measure(page, name=None)`` — the page load's Navigation Timing, reported at the end of
  the run (never asserted: timings vary with the machine); ``report(name, ms)`` — the same for
  an interaction the test timed itself (an htmx swap).

While Chromium runs, ``asyncio.run()`` fails in the tests' thread (Playwright's loop counts as
running there): reach PostgreSQL through ``pg`` (``SyncPg``, a loop of its own in a thread).

With them, ``assert_page_has_no_external_urls(page)`` (``tests/support/browser``) checks a
page and its stylesheets, and ``latest_email(pg, email)`` (``tests/support/accounts``) reads
the newest email sent to an address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.support.browser import (
    NO_CHROMIUM,
    TIMEOUT_MS,
    Network,
    PageErrors,
    PageTiming,
    find_chromium,
    launch,
    read_timing,
)
from tests.support.live import LiveServer

TIMINGS = pytest.StashKey[list[PageTiming]]()
INTERACTIONS = pytest.StashKey[list[tuple[str, float]]]()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    path = find_chromium()
    if path is None:
        pytest.skip(NO_CHROMIUM)
    return path


@pytest.fixture(scope="package")
def browser(chromium_path: Path, live_server: LiveServer) -> Iterator[Browser]:
    # Between its calls, Playwright's sync API leaves its event loop marked as running in this
    # thread, so asyncio.run() fails here while a browser is open: the server (and its database,
    # made with asyncio.run) starts first, and the browser closes after this folder's last test.
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = launch(playwright, chromium_path)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def server_url(live_server: LiveServer) -> str:
    return live_server.url


@pytest.fixture
def network() -> Network:
    return Network()


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def new_context(
    browser: Browser, server_url: str, network: Network, page_errors: PageErrors
) -> Iterator[Callable[[], BrowserContext]]:
    contexts: list[BrowserContext] = []

    def new() -> BrowserContext:
        context = browser.new_context(base_url=server_url)
        context.set_default_timeout(TIMEOUT_MS)
        network.watch(context)
        page_errors.watch(context)
        contexts.append(context)
        return context

    yield new
    for context in contexts:
        context.close()
    network.assert_stayed_local()
    page_errors.assert_none()


@pytest.fixture
def page(new_context: Callable[[], BrowserContext]) -> Page:
    return new_context().new_page()


@pytest.fixture
def measure(request: pytest.FixtureRequest) -> Callable[..., PageTiming]:
    def measure(page: Page, name: str | None = None) -> PageTiming:
        timing = read_timing(page, name or request.node.name)
        request.config.stash.setdefault(TIMINGS, []).append(timing)
        return timing

    return measure


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str, float], None]:
    """Report how long an interaction took in the page (an htmx swap, say): never asserted."""

    def report(name: str, milliseconds: float) -> None:
        request.config.stash.setdefault(INTERACTIONS, []).append((name, milliseconds))

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    timings = config.stash.get(TIMINGS, [])
    interactions = config.stash.get(INTERACTIONS, [])
    if not timings and not interactions:
        return
    terminalreporter.write_sep(
        "-", "page loads in Chromium: ms from navigation start (reported, not asserted)"
    )
    terminalreporter.write_line(f"{'response':>9} {'DOM ready':>9} {'load':>9} {'measured':>9}  test: page")
    for t in timings:
        terminalreporter.write_line(
            f"{t.response_ms:9.1f} {t.dom_content_loaded_ms:9.1f} {t.load_ms:9.1f} {t.ready_ms:9.1f}  "
            f"{t.name}: {t.url}"
        )
    for name, milliseconds in interactions:
        terminalreporter.write_line(f"{milliseconds:9.1f} ms in the page: {name}")
