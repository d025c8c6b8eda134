"""Signing up, in and out: the account API of ``/core``, with the session sealed in the cookie."""

from __future__ import annotations

import re
from http.cookies import CookieError, SimpleCookie
from typing import Any

from litestar import Response, get, post
from litestar.params import FromQuery
from litestar.response import Template

from pgcube.auth.throttle import DEVICE_COOKIE
from pgcube.dashboard.client import Answer
from pgcube.dashboard.page import CurrentPage, Page
from pgcube.dashboard.session import DashboardSession

HOME = "/databases"
SIGN_IN = "/sign-in"

_LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x7e]*")
"""A path of this site: printable ASCII only, since a browser drops tabs and newlines from a URL
(``/<tab>/evil.example`` is read ``//evil.example``), and no ``//`` or ``/\\`` at the start (another host)."""


def _local(target: str | None) -> str:
    """``next`` only ever names a page of this dashboard (no open redirect)."""
    if target and _LOCAL_PATH.fullmatch(target):
        return target
    return HOME


_COOKIE_VALUE = re.compile(r"[!#-+\--:<-\[\]-~]{1,256}")
"""A cookie value that can be passed on as it came (RFC 6265's cookie-octets)."""


def _device_of(page: Page) -> dict[str, str]:
    """The browser's device cookie (``/core/login``'s, kept on the sign-in page's path), passed on:
    the login throttle then counts this browser's failures in its own bucket and never holds up
    the right password of a browser that signed in before, whatever strangers try (H7)."""
    value = page.request.cookies.get(DEVICE_COOKIE)
    return {"Cookie": f"{DEVICE_COOKIE}={value}"} if value and _COOKIE_VALUE.fullmatch(value) else {}


def _keep_device(page: Page, login: Answer) -> None:
    """The device cookie ``/core/login`` set, for the browser to keep on the sign-in page's path
    (the browser never calls ``/core/login`` itself), with the lifetime the API gave it."""
    for header in login.headers.get_list("set-cookie"):
        try:
            device = SimpleCookie(header).get(DEVICE_COOKIE)
        except CookieError:
            continue
        if device is not None:
            max_age: str = device["max-age"]
            page.set_cookie(
                DEVICE_COOKIE,
                device.value,
                path=SIGN_IN,
                max_age=int(max_age) if max_age.isdigit() else None,
                samesite="strict",
            )


@get("/", name="dashboard:home")
async def home(page: CurrentPage) -> Response[Any]:
    return page.redirect(HOME if page.session.signed_in else SIGN_IN)


@get(SIGN_IN, name="dashboard:sign-in")
async def sign_in_form(
    page: CurrentPage, next: FromQuery[str | None] = None, verified: FromQuery[bool] = False
) -> Template:
    return page.render("sign_in.html", next=_local(next), verified=verified, title="Sign in")


@post(SIGN_IN, status_code=200)
async def sign_in(page: CurrentPage) -> Response[Any] | Template:
    form = await page.form()
    email = form.get("email", "")
    answer = await page.api.anonymous(
        "POST",
        "/core/login",
        json={"email": email, "password": form.get("password", "")},
        headers=_device_of(page),
    )
    if not answer.ok:
        return page.render(
            "sign_in.html",
            status_code=answer.status,
            next=_local(form.get("next")),
            email=email,
            error=answer.message,
            title="Sign in",
        )
    page.replace_session(DashboardSession.signed_in_as(email, answer.body["access"], answer.body["refresh"]))
    _keep_device(page, answer)
    return page.redirect(_local(form.get("next")))


@get("/register", name="dashboard:register")
async def register_form(page: CurrentPage) -> Template:
    return page.render("register.html", title="Create an account")


@post("/register", status_code=200)
async def register(page: CurrentPage) -> Template:
    form = await page.form()
    body = {
        "email": form.get("email", ""),
        "password": form.get("password", ""),
        "firstName": form.get("first_name", ""),
        "lastName": form.get("last_name", ""),
    }
    answer = await page.api.anonymous("POST", "/core/register", json=body)
    if not answer.ok:
        return page.render(
            "register.html",
            status_code=answer.status,
            form=form,
            error=answer.message,
            title="Create an account",
        )
    return page.render("registered.html", email=body["email"], title="Check your email")


@post("/sign-out", status_code=200)
async def sign_out(page: CurrentPage) -> Response[Any]:
    if page.session.refresh is not None:  # revoked in PostgreSQL: a copy of the cookie stops working too
        await page.api.anonymous("POST", "/core/logout", json={"refresh": page.session.refresh})
    page.replace_session(DashboardSession.anonymous())
    return page.redirect(SIGN_IN)


PAGES = [home, sign_in_form, sign_in, register_form, register, sign_out]
