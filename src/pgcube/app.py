"""The application factory: ``create_app(settings)`` wires everything, in named steps."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.types import ControllerRouterHandler, Message, Scope

from pgcube import __version__
from pgcube.ai.runtime import open_ai_runtime
from pgcube.api import health
from pgcube.api.core import core_router
from pgcube.api.crud import crud_router
from pgcube.api.ddo import ddo_router
from pgcube.api.deps import provide_session, provide_settings, provide_transaction
from pgcube.api.errors import handle_exception
from pgcube.api.limits import BodyLimitsMiddleware
from pgcube.api.management import management_router
from pgcube.api.openapi import SwaggerPages, document_ddo_bodies, document_error_responses
from pgcube.api.ratelimit import CoreRateLimitMiddleware, provide_limited_principal, start_rate_limits
from pgcube.auth.guards import provide_jwt_principal
from pgcube.auth.setup import accounts_lifespan
from pgcube.control_plane_cache import start_invalidation
from pgcube.dashboard.routes import template_config as dashboard_templates
from pgcube.data.maintenance import maintenance_loop
from pgcube.db import migrations
from pgcube.db.checks import warn_if_not_durable
from pgcube.db.database import resolve_database
from pgcube.db.dedicated import DedicatedConnections
from pgcube.db.pool import create_pool
from pgcube.files.service import open_file_runtime, sweep_all_stale_uploads
from pgcube.ops import REGISTRY
from pgcube.settings import Settings

log = logging.getLogger("pgcube")


def route_handlers() -> Sequence[ControllerRouterHandler]:
    """Every route group of the service; a new group is one more entry here."""
    from pgcube.api.downloads import files_router  # here, not above: one edit per route group
    from pgcube.api.end_users import end_users_router  # here, not above: one edit per route group
    from pgcube.api.files import file_upload_router, storage_router  # here, not above: one edit per group
    from pgcube.api.imports import imports_router  # here, not above: one edit per route group
    from pgcube.assets import static_router  # here, not above: one edit per route group
    from pgcube.dashboard.routes import dashboard_router  # here, not above: one edit per route group

    # The DDO route (/api/{database_id}) goes last: the static /api routes win over it anyway.
    return [
        health.health,
        health.ready,
        core_router(),
        management_router(),
        end_users_router(),
        crud_router(),
        imports_router(),
        file_upload_router(),
        files_router(),
        storage_router(),
        static_router(),
        dashboard_router(),
        ddo_router(),
    ]


_NOSNIFF = (b"x-content-type-options", b"nosniff")


async def no_sniffing(message: Message, scope: Scope) -> None:
    """Every answer says ``X-Content-Type-Options: nosniff``: a browser takes its declared
    type at its word (a JSON answer holding user text is never run as HTML or script)."""
    if message["type"] == "http.response.start":
        message["headers"] = [*message.get("headers", ()), _NOSNIFF]


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="pgcube",
        version=__version__,
        description=(
            "A self-hosted JSON document service on PostgreSQL. Speaks the DataCube REST API "
            "(/core, /api/<name>) and the Singlebase DDO API (POST /api/{database_id})."
        ),
        path="/schema",
        render_plugins=[SwaggerPages()],
    )


def openapi_document() -> bytes:
    """The OpenAPI document as stable, indented JSON (``pgcube openapi``; committed as docs/openapi.json)."""
    schema = create_app(Settings()).openapi_schema.to_schema()
    return msgspec.json.format(msgspec.json.encode(schema, order="sorted"), indent=2) + b"\n"


def lifespan_for(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # The models first: half a provider's settings stop startup before PostgreSQL is touched.
        app.state.ai = open_ai_runtime(settings)
        # Starting the embedded server and Alembic (which runs its own event
        # loop) are blocking: keep them off ours.
        database = await anyio.to_thread.run_sync(resolve_database, settings)
        try:
            if settings.migrate_on_start:
                await anyio.to_thread.run_sync(migrations.upgrade, database.url)
            app.state.pool = await create_pool(settings, database.url)
            # Long DDL that cannot run in a transaction (index builds, ADR 0025) gets its own connections.
            app.state.dedicated = DedicatedConnections(settings, database.url)
            app.state.files = await anyio.to_thread.run_sync(open_file_runtime, settings)
            await warn_if_not_durable(app.state.pool)
            # Caches of keys and the catalog are used only while this listener hears PostgreSQL.
            listener = await start_invalidation(database.url)
            sweeps = [functools.partial(sweep_all_stale_uploads, app.state.files)]
            housekeeping = asyncio.create_task(maintenance_loop(app.state.pool, settings, sweeps))
            key_usage = asyncio.create_task(app.state.accounts.key_usage.flush_loop(app.state.pool))
            rate_limits = await start_rate_limits(app.state, settings, database.url)
            try:
                yield
            finally:
                housekeeping.cancel()
                key_usage.cancel()  # it writes what it holds, then ends
                with contextlib.suppress(asyncio.CancelledError):
                    await key_usage
                await listener.close()
                await rate_limits.close()
                await app.state.pool.close()
        finally:
            database.close()
            await app.state.ai.aclose()

    return lifespan


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    app = Litestar(
        route_handlers=route_handlers(),
        state=State({"settings": settings}),
        dependencies={
            "settings": Provide(provide_settings, sync_to_thread=False),
            "session": Provide(provide_session),
            "conn": Provide(provide_transaction),
            # Authenticates, then charges the caller's rate limit (pgcube.api.ratelimit).
            "principal": Provide(provide_limited_principal),
            "jwt_principal": Provide(provide_jwt_principal, sync_to_thread=False),
        },
        # The accounts step first: a weak JWT secret stops startup before PostgreSQL is touched.
        lifespan=[accounts_lifespan(settings), lifespan_for(settings)],
        exception_handlers={Exception: handle_exception},
        # /core's per-address rate limit first, then the body's size and depth (RELIABILITY E1-E3).
        middleware=[CoreRateLimitMiddleware(), BodyLimitsMiddleware()],
        before_send=[no_sniffing],
        openapi_config=openapi_config(),
        template_config=dashboard_templates(),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )
    # Every error answer documented in the envelope (SPEC §3), for clients and Schemathesis.
    document_error_responses(app)
    document_ddo_bodies(app, REGISTRY)
    return app
