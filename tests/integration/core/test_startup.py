"""A weak or missing JWT secret stops startup outside development mode (RELIABILITY B1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.live import LiveServer, test_settings


# uvicorn ends its thread with SystemExit(3) when the lifespan fails: that is the point here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("secret", [None, "short", "x" * 64, "changeme-changeme-changeme-changeme"])
def test_production_refuses_to_start_with_a_weak_secret(pg_url: str, secret: str | None) -> None:
    # The reason (naming PGCUBE_JWT_SECRET, never the value) is checked in tests/unit/auth.
    settings = test_settings(pg_url, environment="production", jwt_secret=secret)
    with pytest.raises(RuntimeError, match="failed to start"), LiveServer(settings):
        pass


def test_development_starts_without_a_secret_and_keeps_the_one_it_makes(pg_url: str, tmp_path: Path) -> None:
    settings = test_settings(pg_url, jwt_secret=None, data_dir=str(tmp_path))
    with LiveServer(settings) as server, server.client() as http:
        assert http.get("/health").status_code == 200
    assert (tmp_path / "jwt_secret").is_file()
