"""The op registry: every operation of the DDO endpoint, declared once (SPEC §7, §11–14).

An op is one ``Op``: its canonical name, its aliases (older and newer names
that clients send, each with the body it reads), its body Struct (closed:
unknown keys are refused), its handler, whether it needs or creates a
collection, its transaction mode and the principals it accepts. Each family
(``collection.*``, later ``auth.*``, ``file.*``, ``vdb.*``, ``xai.*``) declares
its ops in a module of its own; ``pgcube.ops`` lists the families. The DDO
endpoint, the OpenAPI document and the tenancy walk read everything from here.

Handlers take a ``Context`` and the command the body decoded into, and return
domain values; ``present`` turns them into the DDO answer's ``data`` and
``meta``. Nothing in a family knows HTTP.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

import msgspec

from pgcube.ai.runtime import AiRuntime
from pgcube.data.service import DocumentService, Target
from pgcube.db.session import Session
from pgcube.errors import UnknownOp
from pgcube.files.service import Deferred, FileRuntime, FileService
from pgcube.principal import Principal
from pgcube.settings import Settings
from pgcube.users.service import EndUserService
from pgcube.vectors.service import VectorService


class Tx(enum.StrEnum):
    """What an op needs of PostgreSQL."""

    NONE = "none"
    """No database at all."""
    READ = "read"
    """Reads: statements without ``BEGIN``/``COMMIT``; retried once on a connection lost before
    it answered (a read can run twice without effect)."""
    WRITE = "write"
    """Writes: one statement runs alone (PostgreSQL makes it atomic); several that must hold
    together run in one transaction, which the handler's service opens."""


class CollectionUse(enum.StrEnum):
    NONE = "none"
    NEEDS = "needs"
    """The body's ``collection`` must exist (404 ``COLLECTION_NOT_FOUND``)."""
    CREATES = "creates"
    """The body's ``collection`` is created on first use."""
    FILES = "files"
    """The database's ``_files`` (the ``file.*`` ops), under the database's file access rules."""


class PrincipalKind(enum.StrEnum):
    ACCOUNT = "account"
    """An account's access JWT."""
    SERVER_KEY = "server_key"
    """A server API key (full access to its database or account)."""
    WEB_KEY = "web_key"
    """A web key without a signed-in end user (SPEC §11.1)."""
    END_USER = "end_user"
    """A web key with an end user's ``id_token``."""


ACCOUNT_PRINCIPALS = frozenset({PrincipalKind.ACCOUNT, PrincipalKind.SERVER_KEY})
"""The account's own credentials: they bypass the access rules."""
WEB_PRINCIPALS = frozenset({PrincipalKind.WEB_KEY, PrincipalKind.END_USER})
ALL_PRINCIPALS = ACCOUNT_PRINCIPALS | WEB_PRINCIPALS


def kind_of(principal: Principal) -> PrincipalKind:
    if principal.via == "jwt":
        return PrincipalKind.ACCOUNT
    if not principal.is_web:
        return PrincipalKind.SERVER_KEY
    return PrincipalKind.WEB_KEY if principal.user_key is None else PrincipalKind.END_USER


class Body(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The base of every op's body: ``op`` (or ``action``, for older clients) names it."""

    op: str | None = None
    action: str | None = None

    def command(self) -> Any:
        """What the handler runs (the body itself unless the family says otherwise)."""
        return self


class Answer(msgspec.Struct, frozen=True):
    """A DDO answer before its envelope: ``{"data": data, "meta": meta}``."""

    data: Any
    meta: dict[str, Any] = msgspec.field(default_factory=dict)


@dataclass
class Context:
    """What a handler works with: the request's session and settings, the caller, the database,
    and the target collection when the op declares one."""

    session: Session
    settings: Settings
    principal: Principal
    database_id: str
    target: Target | None = None
    end_users: EndUserService | None = None
    """The process's end-user service (the ``auth.*`` ops); the DDO endpoint passes it."""
    client_address: str = "unknown"
    """The client's address as the edge sees it: guesses are counted per address too."""
    file_runtime: FileRuntime | None = None
    """The process's store and signer (the ``file.*`` ops); the DDO endpoint passes it."""
    ai: AiRuntime | None = None
    """The process's embedder and chat model (the ``vdb.*`` and ``xai.*`` ops); the DDO endpoint
    passes it."""
    deferred: Deferred = field(default_factory=list)
    """Work for after the op's statements have committed (``execute`` runs it): the bytes of
    removed files."""

    @cached_property
    def documents(self) -> DocumentService:
        return DocumentService(self.session, self.settings, sets_userkey=not self.principal.is_web)

    @cached_property
    def vectors(self) -> VectorService:
        return VectorService(self.session, self.settings)

    @cached_property
    def files(self) -> FileService:
        assert self.file_runtime is not None, "the endpoint passes no file runtime"  # wiring, not input
        return FileService(self.session, self.file_runtime, self.collection, self.deferred)

    @property
    def models(self) -> AiRuntime:
        assert self.ai is not None, "the endpoint passes no AI runtime"  # wiring, not input
        return self.ai

    @property
    def users(self) -> EndUserService:
        assert self.end_users is not None, "the endpoint passes no end-user service"  # wiring, not input
        return self.end_users

    @property
    def collection(self) -> Target:
        assert self.target is not None, "the op declares no collection"  # a registry mistake, not input
        return self.target


def as_is(answer: Answer) -> Answer:
    """``present`` for a handler that returns its ``Answer`` already."""
    return answer


C = TypeVar("C")
R = TypeVar("R")


@dataclass(frozen=True)
class Op(Generic[C, R]):
    name: str
    summary: str
    body: type[Body]
    handler: Callable[[Context, C], Awaitable[R]]
    present: Callable[[R], Answer]
    tx: Tx
    collection: CollectionUse = CollectionUse.NONE
    aliases: Mapping[str, type[Body]] = field(default_factory=dict)
    """Other names of the op, each with the body it reads (often ``body`` itself)."""
    principals: frozenset[PrincipalKind] = ACCOUNT_PRINCIPALS
    idempotent: bool = False
    """Whether an ``Idempotency-Key`` header makes a retry return the first answer."""
    no_store: bool = False
    """The answer carries credentials: no cache may keep it (RELIABILITY H9)."""
    example: dict[str, Any] | None = None
    vectors: bool = False
    """The body's ``collection`` is a vector collection (SPEC §13, the table ``_vec_<name>``); a
    ``CREATES`` op's command carries the ``spec`` to make it with."""
    when_missing: Callable[[Context, C], R] | None = None
    """What a read answers when its collection does not exist, instead of 404 (SPEC §10a: a find
    answers an empty page, a count 0, as MongoDB and Singlebase do)."""
    prepare: Callable[[Context, C], Awaitable[C]] | None = None
    """Work before the op's statements that must hold no pooled connection (a model call,
    RELIABILITY I4): it gives the request's connection back first, and returns the command."""


class Registry:
    """Every op by every name it answers to."""

    def __init__(self, ops: Iterable[Op[Any, Any]]) -> None:
        self.ops: tuple[Op[Any, Any], ...] = tuple(ops)
        self._by_name: dict[str, tuple[Op[Any, Any], type[Body]]] = {}
        for op in self.ops:
            for name, body in {op.name: op.body, **op.aliases}.items():
                if name in self._by_name:
                    raise ValueError(f"two ops answer to {name!r}")
                self._by_name[name] = (op, body)

    def names(self) -> list[str]:
        """Every name, aliases included, sorted."""
        return sorted(self._by_name)

    def resolve(self, name: str) -> tuple[Op[Any, Any], type[Body]]:
        """The op called ``name`` and the body that name reads, else 404 ``UNKNOWN_OP``."""
        found = self._by_name.get(name)
        if found is None:
            closest = difflib.get_close_matches(name, self._by_name, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(closest)}?" if closest else ""
            raise UnknownOp(
                f"Unknown operation: {name}{hint}",
                details={"op": name, "closest": closest, "known": self.names()},
            )
        return found
