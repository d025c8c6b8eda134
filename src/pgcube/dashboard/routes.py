"""The dashboard's router: its pages, their session and CSRF guard, their answers to errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router
from litestar.di import Provide
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from pgcube import __version__
from pgcube.assets import HTMX, PICO, STATIC_PATH
from pgcube.dashboard.client import SignedOut
from pgcube.dashboard.page import Page, csrf_guard, provide_page
from pgcube.dashboard.pages import account, app_services, databases, documents, keys, query

log = logging.getLogger("pgcube.dashboard")

TEMPLATES = Path(__file__).parent / "templates"

PAGES: list[ControllerRouterHandler] = [
    *account.PAGES,
    *keys.PAGES,
    *databases.PAGES,
    *documents.PAGES,
    *query.PAGES,
    *app_services.PAGES,
]
"""Every page of the dashboard; a new page group is one more entry here."""


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    def globals_(engine: JinjaTemplateEngine) -> None:
        engine.engine.globals.update(
            htmx_js=HTMX,
            pico_css=PICO,
            dashboard_css=f"{STATIC_PATH}/dashboard/dashboard.css?v={__version__}",
            dashboard_scripts=[
                f"{STATIC_PATH}/dashboard/{name}.js?v={__version__}"
                for name in ("dashboard", "databases", "documents")
            ],
            version=__version__,
        )

    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=globals_)


def _signed_out(request: Request[Any, Any, Any], _: SignedOut) -> Response[Any]:
    """On to sign in, then back to the page the person was on (never a form's action: a GET there
    is a 405). The cookie is left as the browser has it: tabs renewing an expired access token at
    once all spend one refresh token, the API refuses all but the first, and an anonymous cookie
    sent to a loser could arrive after the winner's new one and sign every tab out."""
    page = Page.of(request)
    back = page.address() or account.HOME
    return page.redirect(f"{account.SIGN_IN}?" + urlencode({"next": back}, safe="/"))


def _refused(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Template:
    return Page.of(request).render("error.html", status_code=403, title="Refused", message=exc.detail)


_TITLES = {400: "Not accepted", 401: "Sign in again", 403: "Refused", 404: "Not found", 409: "Conflict"}


def _failed(request: Request[Any, Any, Any], exc: Exception) -> Template:
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        title = _TITLES.get(exc.status_code, "Not accepted")
        return Page.of(request).render(
            "error.html", status_code=exc.status_code, title=title, message=exc.detail
        )
    log.exception("dashboard page %s failed", request.url.path, exc_info=exc)
    return Page.of(request).render(
        "error.html",
        status_code=500,
        title="Something went wrong",
        message="The page failed; the log says why.",
    )


def dashboard_router() -> Router:
    return Router(
        path="/",
        route_handlers=PAGES,
        dependencies={"page": Provide(provide_page, sync_to_thread=False)},
        guards=[csrf_guard],
        exception_handlers={SignedOut: _signed_out, PermissionDeniedException: _refused, Exception: _failed},
        include_in_schema=False,
    )
