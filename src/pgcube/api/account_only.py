"""The management routes answer account credentials only (SPEC §5, §11.1, §11.3).

A web key (``Principal.is_web``) is made to ship inside a browser: it reaches
documents under a collection's access rules and nothing else. It never
manages a database — its collections, its auth settings, its end users — so
every management route refuses it with 403 ``FORBIDDEN``, whether or not an
end user's ``id_token`` comes with it.

One place decides it: ``ACCOUNT_ONLY`` replaces the app-wide ``principal``
dependency on a router, and every handler of that router (and the ``conn``
dependency, which waits for ``principal``) receives the account's principal
or the request ends in 403. A handler cannot forget the check, and a new
management route gets it by joining its router. The document routes (CRUD,
import, DDO) keep the app-wide ``principal``: a web key is their business.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from pgcube import errors
from pgcube.api.ratelimit import provide_limited_principal
from pgcube.db.session import Session
from pgcube.principal import Principal

WEB_KEY_REFUSED = (
    "A web key cannot use the management routes: send an account's access token or a server API key"
)


async def provide_account_principal(
    request: Request[Any, Any, Any], state: State, session: NamedDependency[Session]
) -> Principal:
    """``principal`` as everywhere (authenticated, then charged), refused for a web key."""
    principal = await provide_limited_principal(request, state, session)
    if principal.is_web:
        raise errors.Forbidden(WEB_KEY_REFUSED)
    return principal


ACCOUNT_ONLY: dict[str, Provide] = {"principal": Provide(provide_account_principal)}
"""A router's ``dependencies``: its routes take account credentials only."""
