"""One dashboard request: its session, the API on its behalf, and how it answers.

Handlers take a ``page`` (a dependency of the dashboard's router), call ``page.api``, and
answer with ``page.render(template, **context)`` or ``page.redirect(url)``: the cookie is sealed
again only when the session changed (a first visit, a sign-in, renewed tokens, a sign-out). The
router's error handlers answer through them too, so every answer carries ``SECURITY_HEADERS``.
"""

from __future__ import annotations

from typing import Any, Literal, cast
from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from pgcube.dashboard.client import Api
from pgcube.dashboard.session import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    KEY_PURPOSE,
    DashboardSession,
    SessionSeal,
)

_STATE_KEY = "dashboard_page"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PLAIN_FORM = "application/x-www-form-urlencoded"
"""The one body read for its ``_csrf`` field; a multipart one (a file) carries the token in the header."""
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
    "style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""Only pgcube's own scripts run and nothing is fetched from elsewhere (no inline script or style either)."""
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""On every answer of the dashboard, its error pages and redirects too: each is made by ``Page``."""
SESSION_MAX_AGE = 30 * 24 * 3600
"""The cookie's lifetime; the refresh token inside decides how long it is any use."""


def _seal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionSeal:
    state = connection.app.state
    seal: SessionSeal | None = state.get("dashboard_seal")
    if seal is None:
        seal = SessionSeal(state.accounts.derived_key(KEY_PURPOSE))
        state.dashboard_seal = seal
    return seal


class Page:
    def __init__(self, request: Request[Any, Any, Any]) -> None:
        self.request = request
        self._seal = _seal_of(request)
        opened = self._seal.open(request.cookies.get(COOKIE))
        # A first visit gets an anonymous session (its forms need a CSRF token); a refused post
        # without a readable cookie (another site's form) must not replace the one the browser has.
        self._changed = opened is None and request.method in _SAFE_METHODS
        self.api = Api(request, opened or DashboardSession.anonymous())
        self._more_cookies: list[Cookie] = []

    @classmethod
    def of(cls, request: Request[Any, Any, Any]) -> Page:
        """The request's page (made once: the CSRF guard and the handler share it)."""
        page: Page | None = request.state.get(_STATE_KEY)
        if page is None:
            page = cls(request)
            request.state[_STATE_KEY] = page
        return page

    @property
    def session(self) -> DashboardSession:
        return self.api.session

    def address(self) -> str | None:
        """The dashboard page the person is on, as a path and query: this request's own for a page
        load; for a form or a fragment, the page it was sent from (htmx's ``HX-Current-URL``, else
        ``Referer``) when that is this site's; None when nothing says."""
        request, headers = self.request, self.request.headers
        fragment = headers.get("hx-request") == "true" and headers.get("hx-boosted") != "true"
        if request.method == "GET" and not fragment:
            path, query = quote(request.url.path), request.url.query
        else:
            sent_from = urlsplit(headers.get("hx-current-url") or headers.get("referer") or "")
            if sent_from.scheme not in ("http", "https") or sent_from.netloc not in _own_hosts(request):
                return None
            path, query = sent_from.path or "/", sent_from.query
        return f"{path}?{query}" if query else path

    def replace_session(self, session: DashboardSession) -> None:
        self.api = Api(self.request, session)
        self._changed = True

    async def form(self) -> dict[str, str]:
        """The submitted form's text fields (the CSRF field left out)."""
        form = await self.request.form()
        return {name: value for name, value in form.items() if isinstance(value, str) and name != CSRF_FIELD}

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> Template:
        context.setdefault("session", self.session)
        context.setdefault("path", self.request.url.path)
        headers = dict(SECURITY_HEADERS)
        if self.request.method not in _SAFE_METHODS and self.request.headers.get("hx-request") == "true":
            # A form's answer shown in place (a refusal, a notice): the address stays the page the
            # form is on, so going back or reloading shows that page, not the form's action.
            headers["HX-Push-Url"] = "false"
        return Template(
            template_name=template,
            context=context,
            status_code=status_code,
            headers=headers,
            cookies=self._cookies(),
        )

    def redirect(self, url: str) -> Response[Any]:
        """A full-page navigation: ``HX-Redirect`` for htmx, ``303 See Other`` for a plain form."""
        if self.request.headers.get("hx-request") == "true":
            status_code, headers = 200, {**SECURITY_HEADERS, "HX-Redirect": url}
        else:
            status_code, headers = HTTP_303_SEE_OTHER, {**SECURITY_HEADERS, "Location": url}
        return Response(content=b"", status_code=status_code, headers=headers, cookies=self._cookies())

    def set_cookie(
        self, key: str, value: str, *, path: str, max_age: int | None, samesite: Literal["lax", "strict"]
    ) -> None:
        """One more cookie on this page's answer, ``HttpOnly`` and ``Secure`` like the session's."""
        self._more_cookies.append(self._cookie(key, value, path=path, max_age=max_age, samesite=samesite))

    def _cookies(self) -> list[Cookie]:
        if not (self._changed or self.api.renewed):
            return self._more_cookies
        session = self._cookie(
            COOKIE, self._seal.seal(self.session), path="/", max_age=SESSION_MAX_AGE, samesite="lax"
        )
        return [session, *self._more_cookies]

    def _cookie(
        self, key: str, value: str, *, path: str, max_age: int | None, samesite: Literal["lax", "strict"]
    ) -> Cookie:
        # Behind a proxy that ends TLS, the public URL says the browser speaks https.
        secure = "https" in (
            self.request.url.scheme,
            urlsplit(self.request.app.state.settings.base_url).scheme,
        )
        return Cookie(
            key=key, value=value, path=path, max_age=max_age, httponly=True, secure=secure, samesite=samesite
        )


def provide_page(request: Request[Any, Any, Any]) -> Page:
    return Page.of(request)


CurrentPage = NamedDependency[Page]
"""How a handler asks for its page: ``async def keys(page: CurrentPage) -> Template``."""


def _own_hosts(connection: ASGIConnection[Any, Any, Any, Any]) -> set[str]:
    """The host names this dashboard is reached by: the request's own, and the public URL's (behind a proxy)."""
    hosts = {connection.headers.get("host", ""), connection.headers.get("x-forwarded-host", "")}
    hosts.add(urlsplit(connection.app.state.settings.base_url).netloc)
    return hosts - {""}


def _small_plain_form(request: Request[Any, Any, Any]) -> bool:
    """Whether the body may be read for its ``_csrf`` field before anyone is known: a plain form
    (urlencoded) whose declared length fits the API's body limit, as every form of these pages
    does. A file upload or an import (multipart) sends the token as a header (htmx and the import
    script do): nobody's upload is read, nor a large body held in memory, before the token is known."""
    length = request.headers.get("content-length", "")
    return (
        request.content_type[0] == _PLAIN_FORM
        and length.isdigit()
        and int(length) <= request.app.state.settings.max_body_bytes
    )


async def csrf_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Every state-changing request carries its session's CSRF token and comes from this origin."""
    if connection.scope.get("method", "GET") in _SAFE_METHODS:
        return
    origin = connection.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc not in _own_hosts(connection):
        raise PermissionDeniedException("A request from another site")
    request = cast("Request[Any, Any, Any]", connection)  # the dashboard's routes are all HTTP
    page = Page.of(request)
    token = connection.headers.get(CSRF_HEADER)
    if token is None and _small_plain_form(request):
        field = (await request.form()).get(CSRF_FIELD)
        token = field if isinstance(field, str) else None
    if not page.session.accepts(token):
        raise PermissionDeniedException("The form has expired or did not come from this dashboard: reload")
