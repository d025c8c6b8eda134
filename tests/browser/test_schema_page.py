"""/schema in Chromium: Swagger UI renders every operation from pgcube's own /static, offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.support.browser import Network, PageTiming, assert_page_has_no_external_urls

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def rendered_operations(document: dict[str, Any]) -> int:
    """How many operation blocks Swagger UI draws: one per operation and tag (untagged: "default")."""
    return sum(
        max(1, len(operation.get("tags", [])))
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    )


def test_swagger_ui_renders_every_operation_offline(
    page: Page, network: Network, measure: Callable[..., PageTiming], client: httpx.Client
) -> None:
    page.goto("/schema")
    login = page.locator("#operations-accounts-login")  # Swagger UI's id: operations-<tag>-<operationId>
    expect(login).to_have_class("opblock opblock-post")
    measure(page)
    expect(page.locator(".opblock")).to_have_count(
        rendered_operations(client.get("/schema/openapi.json").json())
    )

    login.locator(".opblock-summary").click()  # the page is live: an operation opens
    expect(login.locator(".opblock-body")).to_be_visible()

    network.assert_stayed_local()
    assert any(url.endswith("/swagger-ui-bundle.js") for url in network.requests)
    assert_page_has_no_external_urls(page)
