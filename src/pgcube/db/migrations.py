"""Apply the Alembic migrations of the control plane (the `pgcube` schema)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

_SOURCE_ROOT = Path(__file__).resolve().parents[3]


def _project_root() -> Path:
    """Where ``alembic.ini`` lives: the source tree, else the working directory."""
    for candidate in (_SOURCE_ROOT, Path.cwd()):
        if (candidate / "alembic.ini").is_file():
            return candidate
    raise FileNotFoundError("alembic.ini not found: run pgcube from its source tree")


def alembic_config(url: str) -> Config:
    root = _project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    config.attributes["pgcube.url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the control plane up to ``revision``; a no-op when it is there."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def execute_script(sql: str) -> None:
    """Run a multi-statement SQL script in the current migration's transaction.

    SQLAlchemy's asyncpg dialect prepares every statement, and a prepared
    statement holds one command; asyncpg's own ``execute`` without arguments
    uses the simple query protocol, which takes a whole script.
    """
    from alembic import op
    from sqlalchemy.util import await_only

    driver_connection = op.get_bind().connection.driver_connection
    if driver_connection is None:
        raise RuntimeError("the migration has no live asyncpg connection")
    await_only(driver_connection.execute(sql))
