"""The JWT secret: configured, generated in development, refused when weak in production (B1)."""

from __future__ import annotations

import concurrent.futures
import stat
from pathlib import Path

import pytest

from pgcube.auth.signing_key import SECRET_FILE, WeakSecretError, resolve_jwt_secret, weakness
from pgcube.settings import Settings

STRONG = "k3P9-vQ2_rT8xZ1mN6bW4cY7hJ0sL5dF-aE2gU9iO3p"


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings.from_env({}, data_dir=str(tmp_path), **values)


def test_a_configured_strong_secret_is_used(tmp_path: Path) -> None:
    assert resolve_jwt_secret(_settings(tmp_path, environment="production", jwt_secret=STRONG)) == STRONG
    assert not (tmp_path / SECRET_FILE).exists()


@pytest.mark.parametrize(
    "secret",
    [
        "short",
        "x" * 64,
        "abababababababababababababababababab",
        "changeme" + "q1w2e3r4t5y6u7i8o9p0a1s2d3f4",
        "secret",
        "é" * 15,
    ],
)
def test_weak_secrets_stop_startup_outside_development(tmp_path: Path, secret: str) -> None:
    assert weakness(secret) is not None
    with pytest.raises(WeakSecretError) as raised:
        resolve_jwt_secret(_settings(tmp_path, environment="production", jwt_secret=secret))
    if len(secret) > 10:  # the message never repeats the secret
        assert secret not in str(raised.value)


def test_a_missing_secret_stops_startup_outside_development(tmp_path: Path) -> None:
    with pytest.raises(WeakSecretError, match="PGCUBE_JWT_SECRET is not set"):
        resolve_jwt_secret(_settings(tmp_path, environment="production"))


def test_development_accepts_a_weak_secret_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert resolve_jwt_secret(_settings(tmp_path, jwt_secret="dev")) == "dev"
    assert "weak" in caplog.text
    assert "dev" not in caplog.text.replace("development", "")


def test_development_generates_one_secret_and_keeps_it(tmp_path: Path) -> None:
    first = resolve_jwt_secret(_settings(tmp_path))
    second = resolve_jwt_secret(_settings(tmp_path))
    assert first == second
    assert weakness(first) is None
    path = tmp_path / SECRET_FILE
    assert path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_workers_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        secrets = set(pool.map(lambda _: resolve_jwt_secret(_settings(tmp_path)), range(16)))
    assert len(secrets) == 1
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_FILE]


def test_a_damaged_secret_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_text("x")
    with pytest.raises(WeakSecretError, match="damaged"):
        resolve_jwt_secret(_settings(tmp_path))
