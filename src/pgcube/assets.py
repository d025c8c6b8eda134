"""The assets of the dashboard and of ``/schema``, served by pgcube itself so both work offline.

Vendored files live under ``static/vendor/<name>-<version>/`` beside their licence; a new
version is a new directory, so a cached old file is never served for a new page.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"

HTMX = f"{STATIC_PATH}/vendor/htmx-2.0.11/htmx.min.js"
PICO = f"{STATIC_PATH}/vendor/pico-2.1.1/pico.classless.min.css"
SWAGGER_UI = f"{STATIC_PATH}/vendor/swagger-ui-5.35.0"


def static_router() -> Router:
    """``/static/…``: the vendored and own assets, cacheable for a day."""
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR],
        cache_control=CacheControlHeader(max_age=86400, public=True),
        include_in_schema=False,
    )
