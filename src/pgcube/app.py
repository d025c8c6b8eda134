"""The application factory: ``create_app(settings)`` wires everything, in named steps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.types import ControllerRouterHandler

from pgcube import __version__
from pgcube.api import health
from pgcube.api.deps import provide_settings, provide_transaction
from pgcube.api.errors import handle_exception
from pgcube.db import migrations
from pgcube.db.database import resolve_database
from pgcube.db.pool import create_pool
from pgcube.settings import Settings

log = logging.getLogger("pgcube")


def route_handlers() -> Sequence[ControllerRouterHandler]:
    """Every route group of the service; a new group is one more entry here."""
    return [health.health, health.ready]


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="pgcube",
        version=__version__,
        description=(
            "A self-hosted JSON document service on PostgreSQL. Speaks the DataCube REST API "
            "(/core, /api/<name>) and the Singlebase DDO API (POST /api/{database_id})."
        ),
        path="/schema",
        render_plugins=[SwaggerRenderPlugin()],
    )


def lifespan_for(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Starting the embedded server and Alembic (which runs its own event
        # loop) are blocking: keep them off ours.
        database = await anyio.to_thread.run_sync(resolve_database, settings)
        try:
            if settings.migrate_on_start:
                await anyio.to_thread.run_sync(migrations.upgrade, database.url)
            app.state.pool = await create_pool(settings, database.url)
            try:
                yield
            finally:
                await app.state.pool.close()
        finally:
            database.close()

    return lifespan


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    return Litestar(
        route_handlers=route_handlers(),
        state=State({"settings": settings}),
        dependencies={
            "settings": Provide(provide_settings, sync_to_thread=False),
            "conn": Provide(provide_transaction),
        },
        lifespan=[lifespan_for(settings)],
        exception_handlers={Exception: handle_exception},
        openapi_config=openapi_config(),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )
