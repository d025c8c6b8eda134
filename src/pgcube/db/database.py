"""Which PostgreSQL pgcube talks to: the configured URL, or the embedded one."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pgcube.db.embedded import EmbeddedPostgres, start_embedded
from pgcube.db.urls import redact
from pgcube.settings import Settings

log = logging.getLogger("pgcube")


@dataclass
class ResolvedDatabase:
    url: str
    embedded: EmbeddedPostgres | None = None

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.close()


def resolve_database(settings: Settings) -> ResolvedDatabase:
    """Use ``PGCUBE_DATABASE_URL``, or start the embedded PostgreSQL in ``data_dir``."""
    if settings.database_url:
        log.info("using PostgreSQL at %s", redact(settings.database_url))
        return ResolvedDatabase(url=settings.database_url)
    embedded = start_embedded(settings.data_path)
    log.info(
        "embedded PostgreSQL running; data lives in %s "
        "(set PGCUBE_DATABASE_URL=postgresql://user:password@host:5432/dbname to use another server)",
        embedded.data_path,
    )
    return ResolvedDatabase(url=embedded.url, embedded=embedded)
