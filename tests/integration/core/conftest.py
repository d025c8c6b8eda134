"""A live server with two probe routes that only authenticate, so the guards
(``principal``, ``jwt_principal``) are tested on their own, whatever other
route groups exist:

* ``GET /probe/any`` — declares ``principal``: JWT or API key;
* ``GET /probe/jwt`` — declares ``jwt_principal``: JWT only.

Both answer the ``Principal`` they received.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import get
from litestar.di import NamedDependency

from pgcube.app import create_app
from pgcube.principal import Principal
from pgcube.settings import Settings
from tests.support.live import LiveServer


@get("/probe/any", operation_id="probeAny")
async def probe_any(principal: NamedDependency[Principal]) -> dict[str, Any]:
    return {
        "account_id": principal.account_id,
        "via": principal.via,
        "database_id": principal.database_id,
        "api_key_id": principal.api_key_id,
    }


@get("/probe/jwt", operation_id="probeJwt")
async def probe_jwt(jwt_principal: NamedDependency[Principal]) -> dict[str, Any]:
    return {"account_id": jwt_principal.account_id, "via": jwt_principal.via}


class ProbeServer(LiveServer):
    """``LiveServer`` serving ``create_app(settings)`` plus the probe routes."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        app = create_app(settings)
        app.register(probe_any)
        app.register(probe_jwt)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)


@pytest.fixture(scope="session")
def probe_server(settings: Settings) -> Iterator[ProbeServer]:
    with ProbeServer(settings) as server:
        yield server


@pytest.fixture
def probe(probe_server: ProbeServer) -> Iterator[httpx.Client]:
    """A client of the probe server (same database and settings as ``client``)."""
    with probe_server.client() as http:
        yield http
