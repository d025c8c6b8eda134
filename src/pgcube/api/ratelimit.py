"""Rate limits at the HTTP edge (RELIABILITY E3, SPEC §3; ADR 0008).

* ``/api/*`` — per API key (a request made with a key) or per account (a
  request made with a session token), ``rate_limit_requests`` per window, and
  per account for all its keys and tokens together,
  ``rate_limit_account_requests``. It is applied where the caller becomes
  known: the ``principal`` dependency (``provide_limited_principal``)
  authenticates, then charges the request — one hit, or one per document when
  the body carries a batch (``data`` or ``documents`` holding an array),
  whatever its ``Content-Type`` says (the handlers decode any body as JSON);
  an import, whose documents are known only once it is read, is charged
  them then (``charge_streamed_documents``) and undone when they do not fit.
* ``/core/*`` — per client address, ``rate_limit_core_requests`` per window,
  before anything else runs (``CoreRateLimitMiddleware``). The address is the
  connection's peer; ``X-Forwarded-For`` counts only when the server was told
  to trust the proxy that sends it (``PGCUBE_FORWARDED_ALLOW_IPS``).

Request N+1 of a window is a 429 ``RATE_LIMIT_EXCEEDED`` with ``limit``,
``remaining``, ``reset_at`` and ``retry_after`` and a ``Retry-After`` header.
A limit of 0 turns that limit off.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from pgcube import errors
from pgcube.api.limits import has_body, streams
from pgcube.auth.guards import provide_principal
from pgcube.db.rate_limits import PostgresStore
from pgcube.db.session import Session
from pgcube.principal import Principal
from pgcube.ratelimit import Decision, RateLimiter
from pgcube.settings import Settings

CORE_PREFIX = "/core"


class RateLimits:
    """The process's limiter and its background task (``app.state.rate_limits``)."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.settings = settings
        self.store = PostgresStore(url)
        self.limiter = RateLimiter(self.store, window=settings.rate_limit_window)
        self._task: asyncio.Task[None] | None = None
        account = settings.rate_limit_account_requests
        self.api_limited = settings.rate_limit_requests > 0 or (account or 0) > 0
        """Whether any /api limit is on (off by default: a request then computes no bucket)."""

    def start(self) -> None:
        # With every limit off there is nothing to count, settle or purge: no background
        # statements at all.
        if self.api_limited or self.settings.rate_limit_core_requests > 0:
            self._task = asyncio.create_task(self.limiter.run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):  # the store may be unreachable: its counts expire anyway
            await self.limiter.flush()
        await self.store.close()

    async def charge(self, bucket: str, limit: int, cost: int = 1) -> None:
        """Count the hits, or raise ``RateLimitExceeded``."""
        if limit <= 0:
            return
        decision = await self.limiter.hit(bucket, limit, cost)
        if not decision.admitted:
            raise _exceeded(decision)


def _exceeded(decision: Decision) -> errors.RateLimitExceeded:
    return errors.RateLimitExceeded(
        limit=decision.limit,
        remaining=decision.remaining,
        reset_at=decision.reset_at,
        retry_after=decision.retry_after,
    )


async def start_rate_limits(state: State, settings: Settings, url: str) -> RateLimits:
    """Create the process's limiter (lifespan step) and store it in ``state``."""
    limits = RateLimits(settings, url)
    limits.start()
    state.rate_limits = limits
    return limits


# --- /api: per key or account, after authentication ------------------------------------------


class _Batch(msgspec.Struct):
    # Raw: the values are only scanned, never built. Empty when absent.
    data: msgspec.Raw = msgspec.Raw()
    documents: msgspec.Raw = msgspec.Raw()


def batch_size(body: bytes) -> int:
    """How many documents a JSON body carries in ``data``/``documents`` (1 if it is no batch)."""
    try:
        probe = msgspec.json.decode(body, type=_Batch)
        for raw in (probe.data, probe.documents):
            if bytes(memoryview(raw)[:1]) == b"[":
                return max(1, len(msgspec.json.decode(raw, type=list[msgspec.Raw])))
    except (msgspec.DecodeError, RecursionError):  # the handler reports a bad body; here it costs 1
        pass
    return 1


async def request_cost(request: Request[Any, Any, Any], settings: Settings) -> int:
    """Each document of a batch counts; everything else costs one hit."""
    if not has_body(request.scope) or streams(request.scope, settings):
        return 1  # uploads (the import) stream: never read them here
    return batch_size(await request.body())


def api_buckets(principal: Principal, settings: Settings) -> list[tuple[str, int]]:
    """The buckets a request is charged to, each with its limit: the caller's (its API key, or the
    account's session tokens) and the account's, for all of them together."""
    if principal.via == "api_key" and principal.api_key_id is not None:
        caller = f"api:key:{principal.api_key_id}"
    else:
        caller = f"api:account:{principal.account_id}"
    account_limit = settings.rate_limit_account_requests
    if account_limit is None:
        account_limit = settings.rate_limit_requests
    return [(caller, settings.rate_limit_requests), (f"api:all:{principal.account_id}", account_limit)]


async def charge_streamed_documents(state: State, principal: Principal, documents: int) -> None:
    """Charge a streamed request's documents (an import's) once they are counted: it paid one hit
    when it came in, before its body was read. Over the budget it is a 429, raised before the
    request's transaction commits, so nothing it wrote stays."""
    limits: RateLimits | None = getattr(state, "rate_limits", None)
    if limits is None or not limits.api_limited or documents <= 1:
        return
    for bucket, limit in api_buckets(principal, limits.settings):
        await limits.charge(bucket, limit, documents - 1)


async def provide_limited_principal(
    request: Request[Any, Any, Any], state: State, session: NamedDependency[Session]
) -> Principal:
    """The ``principal`` dependency: authenticate (``pgcube.auth.guards``), then charge the caller."""
    principal = await provide_principal(request, state, session)
    limits: RateLimits | None = getattr(state, "rate_limits", None)
    if limits is not None and limits.api_limited:
        cost = await request_cost(request, limits.settings)
        for bucket, limit in api_buckets(principal, limits.settings):
            await limits.charge(bucket, limit, cost)  # a limit of 0 charges nothing
    return principal


# --- /core: per client address, before anything runs -----------------------------------------


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class CoreRateLimitMiddleware(ASGIMiddleware):
    """Charges every ``/core`` request to its client's address."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["path"].startswith(CORE_PREFIX):
            limits: RateLimits | None = getattr(scope["app"].state, "rate_limits", None)
            if limits is not None:
                bucket = f"core:addr:{client_address(scope)}"
                await limits.charge(bucket, limits.settings.rate_limit_core_requests)
        await next_app(scope, receive, send)
