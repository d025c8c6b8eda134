"""pgcube served over real HTTP on a loopback port, in a background thread.

``LiveServer(settings)`` runs uvicorn with ``create_app(settings)`` (the same
factory production uses) and stops it on exit; tests talk to it with a real
HTTP client.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType

import httpx
import uvicorn
from litestar import Litestar

from pgcube.app import create_app
from pgcube.settings import Settings

TEST_JWT_SECRET = "test-secret-" + "x" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@functools.cache
def _run_data_dir() -> str:
    path = tempfile.mkdtemp(prefix="pgcube-test-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def test_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for a test server on ``database_url`` (already migrated)."""
    values: dict[str, object] = {
        "database_url": database_url,
        # The local file store lives under the data directory: one of the run's own, never the checkout.
        "data_dir": _run_data_dir(),
        "migrate_on_start": False,
        "jwt_secret": TEST_JWT_SECRET,
        "pool_min_size": 1,
        "pool_max_size": 5,
        "access_log": False,
        # The whole suite comes from one address and reuses accounts: rate limits stay on
        # (their code runs) but out of reach. Tests of the limits set small ones (hardening/).
        "rate_limit_requests": 1_000_000,
        "rate_limit_core_requests": 1_000_000,
        "login_address_max_failures": 1_000_000,
    }
    values.update(overrides)
    return Settings.from_env({}, **values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test, despite its name


class LiveServer:
    def __init__(
        self,
        settings: Settings,
        app_hook: Callable[[Litestar], Litestar] | None = None,
        *,
        port: int | None = None,
    ) -> None:
        """``port``: the one the settings' ``public_url`` names (links the server builds);
        default: any free one."""
        self.settings = settings
        app = create_app(settings)
        if app_hook is not None:
            app = app_hook(app)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the test server failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError("the test server did not start within 30 s")
            time.sleep(0.02)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def linked_server(database_url: str, **overrides: object) -> Iterator[LiveServer]:
    """A test server whose links (file URLs, presigned forms) name its own address."""
    port = free_port()
    settings = test_settings(database_url, public_url=f"http://127.0.0.1:{port}", **overrides)
    with LiveServer(settings, port=port) as server:
        yield server
