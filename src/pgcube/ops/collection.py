"""The Datastore ops, ``collection.*`` (SPEC §7), and their ``db.*`` aliases.

Each body decodes into a command of ``pgcube.data.commands``, run by the
document service that ``/api/crud`` uses too. For ``collection.*`` names the
criteria are ``match`` and ``filter`` is a projection, as in the seed; the
``db.*`` names also take the criteria as ``filter``, ``filters`` or
``matches`` and the projection as ``return_fields``. A key an op does not read
is refused, so a misplaced ``filter`` on a delete never means "everything".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal, cast

import msgspec

from pgcube.data import commands
from pgcube.data.documents import raw_documents
from pgcube.data.pagination import ddo_pagination
from pgcube.data.service import Inserted, Page, Removed, Updated
from pgcube.errors import ValidationError, missing_field
from pgcube.ops.registry import (
    ACCOUNT_PRINCIPALS,
    ALL_PRINCIPALS,
    Answer,
    Body,
    CollectionUse,
    Context,
    Op,
    PrincipalKind,
    Tx,
)
from pgcube.query import DDO_POINTERS, Pointers
from pgcube.query_limits import MAX_PAGE_SIZE

Criteria = dict[str, Any]
Projection = dict[str, Any] | list[str]
Sort = str | list[str] | dict[str, Any]
CRITERIA_ALIASES = ("filter", "filters", "matches")


def _required(value: Any, name: str) -> Any:
    if value is None or value == "":
        raise missing_field(name)
    return value


class _Collection(Body):
    collection: str
    db_family: ClassVar[bool] = False
    """Whether the body was named in the ``db.*`` family (criteria under more names)."""

    def _criteria_sent(self) -> tuple[str, Any] | None:
        """(name, value) of the criteria, sent once under one of the names this body reads."""
        names = ("match", *CRITERIA_ALIASES) if self.db_family else ("match",)
        sent = [(name, value) for name in names if (value := getattr(self, name, None)) is not None]
        if len(sent) > 1:
            listed = ", ".join(name for name, _ in sent)
            raise ValidationError(f"Send the criteria once, not as {listed}", details={"field": sent[1][0]})
        return sent[0] if sent else None

    def criteria(self) -> Criteria:
        sent = self._criteria_sent()
        if sent is None:
            return {}
        name, value = sent
        if not isinstance(value, dict):
            raise ValidationError(f"{name} must be an object", details={"field": name})
        return value

    def target_name(self) -> str:
        name: str = _required(self.collection, "collection")
        return name

    def pointers(self) -> Pointers:
        sent = self._criteria_sent()
        return msgspec.structs.replace(DDO_POINTERS, criteria="/" + sent[0] if sent else "/match")


class FindKeys(_Collection):
    """The keys of a find (``FindBody``; ``collection.explain`` reads them too)."""

    match: Criteria | None = None
    filter: Criteria | list[str] | None = None
    """The projection (``collection.*``) or the criteria (``db.*``)."""
    return_fields: Projection | None = None
    sort: Sort | None = None
    limit: int | None = None
    offset: int | None = None
    page: int | None = None
    per_page: int | None = None
    cursor: str | None = None
    count: Literal["exact", "none"] | bool | None = None


class FindBody(FindKeys):
    def projection(self) -> Projection | None:
        if self.db_family:
            return self.return_fields
        if self.return_fields is not None and self.filter is not None:
            raise ValidationError(
                "Send the projection once: filter or return_fields", details={"field": "filter"}
            )
        return self.filter if self.filter is not None else self.return_fields

    def command(self) -> commands.Find:
        return commands.Find(
            collection=self.target_name(),
            criteria=self.criteria(),
            sort=self.sort,
            projection=self.projection(),
            limit=self.limit,
            offset=self.offset,
            page=self.page,
            per_page=self.per_page,
            cursor=self.cursor,
            with_total=self.count not in ("none", False),
            pointers=self.pointers(),
        )


class CountBody(_Collection):
    match: Criteria | None = None

    def command(self) -> commands.Count:
        return commands.Count(
            collection=self.target_name(), criteria=self.criteria(), pointers=self.pointers()
        )


class InsertBody(_Collection):
    data: Any = None
    """One document, or a list of at most 1000."""

    def command(self) -> commands.Insert:
        data = _required(self.data, "data")
        return commands.Insert(
            collection=self.target_name(), documents=data if isinstance(data, list) else [data]
        )


class UpdateBody(_Collection):
    match: Criteria | None = None
    data: dict[str, Any] | None = None
    """The mutation (SPEC §9.4)."""

    def command(self) -> commands.Update:
        return commands.Update(
            collection=self.target_name(),
            criteria=self.criteria(),
            mutation=_required(self.data, "data"),
            pointers=self.pointers(),
            mutation_pointer="/data",
        )


class UpsertBody(_Collection):
    match: Criteria | None = None
    update: dict[str, Any] | None = None
    insert: dict[str, Any] | None = None

    def command(self) -> commands.Upsert:
        return commands.Upsert(
            collection=self.target_name(),
            criteria=self.criteria(),
            mutation=self.update or {},
            new_document=self.insert or {},
            pointers=self.pointers(),
            mutation_pointer="/update",
        )


class RemoveBody(_Collection):
    match: Criteria | None = None
    kind: ClassVar[Literal["deleted", "archived"]] = "deleted"

    def command(self) -> commands.Remove:
        return commands.Remove(
            collection=self.target_name(), criteria=self.criteria(), kind=self.kind, pointers=self.pointers()
        )


class ArchiveBody(RemoveBody):
    kind: ClassVar[Literal["deleted", "archived"]] = "archived"


class RestoreBody(_Collection):
    ref: str | None = msgspec.field(default=None, name="_ref")

    def command(self) -> commands.Restore:
        return commands.Restore(collection=self.target_name(), ref=_required(self.ref, "_ref"))


class TrashedBody(_Collection):
    limit: int = 100
    """At most this many entries, newest first."""

    def command(self) -> commands.Trashed:
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValidationError(
                f"limit must be an integer from 1 to {MAX_PAGE_SIZE}",
                details={"field": "limit", "pointer": "/limit"},
            )
        return commands.Trashed(collection=self.target_name(), limit=self.limit)


def db_variant(body: type[_Collection]) -> type[_Collection]:
    """The body under a ``db.*`` name: the criteria may also come as ``filter``, ``filters`` or
    ``matches`` (and a find's projection as ``return_fields`` only)."""
    if "match" not in body.__struct_fields__:
        return body
    extra: list[Any] = [(name, Criteria | None, None) for name in CRITERIA_ALIASES if name != "filter"]
    if "filter" not in body.__struct_fields__:
        extra.append(("filter", Criteria | None, None))
    variant = msgspec.defstruct(
        "Db" + body.__name__,
        extra,
        bases=(body,),
        namespace={"db_family": True, "__module__": __name__},
        kw_only=True,
        forbid_unknown_fields=True,
    )
    return cast(type[_Collection], variant)


# --- answers ---------------------------------------------------------------------------------------


def page_meta(page: Page) -> dict[str, Any]:
    """``meta`` of a page of documents (``collection.find``, ``file.list``)."""
    pagination = ddo_pagination(
        page.offset,
        page.limit,
        count=len(page.documents),
        total=page.total,
        has_next=page.has_next,
        next_cursor=page.next_cursor,
        keyset=page.keyset,
    )
    return {"pagination": pagination}


def _page(page: Page) -> Answer:
    return Answer(raw_documents(page.documents), page_meta(page))


def _documents(documents: list[bytes]) -> Answer:
    return Answer(raw_documents(documents), {"count": len(documents)})


def _upserted(result: Updated) -> Answer:
    return Answer(
        raw_documents(result.documents),
        {"count": len(result.documents), "upserted": result.upserted_key is not None},
    )


def _removed(removed: Removed) -> Answer:
    return Answer({"_ref": removed.ref, "count": removed.count})


def _count(count: int) -> Answer:
    return Answer({"count": count})


# --- handlers --------------------------------------------------------------------------------------


async def find(ctx: Context, command: commands.Find) -> Page:
    return await ctx.documents.find(ctx.collection, command)


async def count(ctx: Context, command: commands.Count) -> int:
    return await ctx.documents.count(ctx.collection, command)


async def insert(ctx: Context, command: commands.Insert) -> Inserted:
    return await ctx.documents.insert(ctx.collection, command)


async def update(ctx: Context, command: commands.Update) -> list[bytes]:
    return await ctx.documents.update(ctx.collection, command)


async def upsert(ctx: Context, command: commands.Upsert) -> Updated:
    return await ctx.documents.upsert(ctx.collection, command)


async def remove(ctx: Context, command: commands.Remove) -> Removed:
    return await ctx.documents.remove(ctx.collection, command)


async def restore(ctx: Context, command: commands.Restore) -> int:
    return await ctx.documents.restore(ctx.collection, command)


async def trashed(ctx: Context, command: commands.Trashed) -> list[bytes]:
    return await ctx.documents.trashed(ctx.collection, command)


def _op(
    verb: str,
    summary: str,
    body: type[_Collection],
    handler: Any,
    present: Any,
    tx: Tx,
    *,
    creates: bool = False,
    legacy: tuple[str, ...] = (),
    idempotent: bool = False,
    example: dict[str, Any] | None = None,
    when_missing: Callable[[Context, Any], Any] | None = None,
    principals: frozenset[PrincipalKind] = ALL_PRINCIPALS,
) -> Op[Any, Any]:
    """``collection.<verb>``, answering to ``db.<verb>`` (and ``legacy`` names) with the ``db.*`` body."""
    variant = db_variant(body)
    return Op(
        name=f"collection.{verb}",
        summary=summary,
        body=body,
        handler=handler,
        present=present,
        tx=tx,
        collection=CollectionUse.CREATES if creates else CollectionUse.NEEDS,
        aliases={f"db.{verb}": variant, **dict.fromkeys(legacy, variant)},
        principals=principals,  # web keys under the collection's access rules (the runner)
        idempotent=idempotent,
        example=example,
        when_missing=when_missing,
    )


FIND = _op(
    "find",
    "Find documents: match, sort, projection (filter), pages or a cursor",
    FindBody,
    find,
    _page,
    Tx.READ,
    legacy=("db.fetch",),
    example={"op": "collection.find", "collection": "users", "match": {"status": "active"}, "limit": 50},
    when_missing=lambda ctx, command: ctx.documents.nothing_found(command),
)
COUNT = _op(
    "count",
    "Count the matching documents",
    CountBody,
    count,
    _count,
    Tx.READ,
    when_missing=lambda ctx, command: ctx.documents.nothing_counted(command),
)
INSERT = _op(
    "insert",
    "Insert one document or a batch (at most 1000); creates the collection on first use",
    InsertBody,
    insert,
    lambda inserted: _documents(inserted.documents),
    Tx.WRITE,
    creates=True,
    idempotent=True,
)
UPDATE = _op(
    "update",
    "Update the matching documents with the mutation language (data)",
    UpdateBody,
    update,
    _documents,
    Tx.WRITE,
)
UPSERT = _op(
    "upsert",
    "Update the matching documents, or insert one from match and insert",
    UpsertBody,
    upsert,
    _upserted,
    Tx.WRITE,
    creates=True,
)
DELETE = _op(
    "delete",
    "Delete the matching documents (restorable for 24 h by _ref)",
    RemoveBody,
    remove,
    _removed,
    Tx.WRITE,
)
ARCHIVE = _op(
    "archive",
    "Archive the matching documents: hidden from queries until restored by _ref",
    ArchiveBody,
    remove,
    _removed,
    Tx.WRITE,
)
RESTORE = _op(
    "restore",
    "Put back what a delete or archive moved away (by _ref)",
    RestoreBody,
    restore,
    _count,
    Tx.WRITE,
)
TRASHED = _op(
    "trashed",
    "List what a restore could put back (_ref, kind, trashed_at, document), newest first",
    TrashedBody,
    trashed,
    _documents,
    Tx.READ,
    when_missing=lambda ctx, command: [],
    # The whole collection's trash, whoever deleted it: the account's own credentials only.
    principals=ACCOUNT_PRINCIPALS,
)

OPS: tuple[Op[Any, Any], ...] = (FIND, COUNT, INSERT, UPDATE, UPSERT, DELETE, ARCHIVE, RESTORE, TRASHED)
