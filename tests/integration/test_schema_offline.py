"""The documentation pages under /schema work offline: Swagger UI, its stylesheet and favicon come
from pgcube's own /static (vendored), never a CDN, and its validator badge is off."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import httpx
import pytest

from tests.support.offline import assert_no_external_urls, page_urls

PAGES = ("/schema", "/schema/swagger")
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}
# Raw text too, so a URL in an inline script's markup is caught as well as one in a tag.
_ABSOLUTE_SRC_OR_HREF = re.compile(r"""\b(?:src|href)\s*=\s*\\?["']?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.mark.parametrize("path", PAGES)
def test_the_page_names_only_its_own_static_assets(client: httpx.Client, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = page_urls(page.text).attribute_values
    assert assets, "Swagger UI's script, stylesheet and favicon"
    assert [url for url in assets if not url.startswith("/static/")] == []
    assert _ABSOLUTE_SRC_OR_HREF.findall(page.text) == []
    for url in assets:
        answer = client.get(url)
        assert answer.status_code == 200, url
        expected = CONTENT_TYPES[PurePosixPath(url).suffix]
        assert answer.headers["content-type"].startswith(expected), (url, answer.headers["content-type"])


@pytest.mark.parametrize("path", PAGES)
def test_the_page_and_its_stylesheets_name_nothing_off_the_machine(client: httpx.Client, path: str) -> None:
    assert_no_external_urls(client, path)


def test_the_validator_badge_is_off(client: httpx.Client) -> None:
    # Swagger UI's default validatorUrl fetches a badge from validator.swagger.io.
    assert "validatorUrl: null," in client.get("/schema").text
