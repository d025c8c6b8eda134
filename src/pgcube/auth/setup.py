"""Wiring the accounts service into the app: one step of ``create_app``'s lifespan.

At startup: resolve the JWT secret (a weak one stops startup outside
development mode), keep verification tokens out of the access log, build the
password hasher, choose the mail sender, and keep the ``AccountService`` in
``app.state.accounts``. At shutdown: let queued emails go out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from litestar import Litestar

from pgcube.auth import redact
from pgcube.auth.email import mail_sender_for
from pgcube.auth.passwords import Passwords
from pgcube.auth.service import AccountService
from pgcube.auth.signing_key import resolve_jwt_secret
from pgcube.settings import Settings


def accounts_lifespan(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        secret = await anyio.to_thread.run_sync(resolve_jwt_secret, settings)
        redact.install()
        passwords = Passwords()
        await passwords.warm_up()
        mailer = mail_sender_for(settings)
        app.state.accounts = AccountService(settings, secret, passwords, mailer)
        try:
            yield
        finally:
            await mailer.aclose()

    return lifespan
