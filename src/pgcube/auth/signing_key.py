"""Where the JWT signing secret comes from (RELIABILITY B1).

* ``PGCUBE_JWT_SECRET`` when set. Outside development mode it must be at
  least 32 bytes and not a placeholder, or the service refuses to start.
* Development mode without it: a secret of 32 random bytes is generated once
  and kept in ``<data_dir>/jwt_secret`` (mode 0600), so sessions survive a
  restart and every worker process shares it. Creation is atomic (write a
  temporary file, then ``link`` it into place), so workers starting together
  agree on one secret.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from pathlib import Path

from pgcube.settings import Settings

log = logging.getLogger("pgcube.auth")

MIN_SECRET_BYTES = 32
SECRET_FILE = "jwt_secret"  # noqa: S105 — the file name, not the secret
_PLACEHOLDERS = ("changeme", "change-me", "change_me", "secret", "your-secret", "example", "default")


class WeakSecretError(RuntimeError):
    """The configured JWT secret is missing or weak outside development mode."""


def weakness(secret: str) -> str | None:
    """Why ``secret`` is too weak to sign tokens with, or None."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"it is shorter than {MIN_SECRET_BYTES} bytes"
    if len(set(secret)) < 5:
        return "it repeats a handful of characters"
    lowered = secret.lower()
    if any(lowered.startswith(p) or lowered.endswith(p) for p in _PLACEHOLDERS):
        return "it looks like a placeholder"
    return None


def resolve_jwt_secret(settings: Settings) -> str:
    """The secret to sign access tokens with; raises ``WeakSecretError`` outside development."""
    configured = settings.jwt_secret
    if configured:
        problem = weakness(configured)
        if problem is None:
            return configured
        if not settings.is_development:
            raise WeakSecretError(
                f"PGCUBE_JWT_SECRET is too weak ({problem}); use at least {MIN_SECRET_BYTES} random bytes, "
                'e.g. python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        log.warning("PGCUBE_JWT_SECRET is weak (%s); accepted only because this is development mode", problem)
        return configured
    if not settings.is_development:
        raise WeakSecretError(
            "PGCUBE_JWT_SECRET is not set; outside development mode it is required "
            f"(at least {MIN_SECRET_BYTES} random bytes)"
        )
    return _development_secret(settings.data_path)


def _development_secret(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    if not path.exists():
        temporary = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # another worker won the race: use its secret
                os.link(temporary, path)
                log.info("generated a development JWT secret in %s", path)
        finally:
            temporary.unlink(missing_ok=True)
    secret = path.read_text().strip()
    if weakness(secret) is not None:
        raise WeakSecretError(
            f"the development JWT secret in {path} is damaged; delete the file to regenerate it"
        )
    return secret
